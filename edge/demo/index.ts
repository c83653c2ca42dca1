import { Hono, type MiddlewareHandler } from 'hono';
import type { EdgeEnv } from '../env';
import { css, html, script } from './assets.generated.js';

/** The page may load its own script and style and talk to this host (HTTP and WebSocket) only. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The demo page (docs/demo.md): `/` with `/demo/app.js` and `/demo/style.css`. It is served in
 * every environment; outside the simulation there is no `/dev/token`, so the page asks for a token.
 */
export function demoRoutes(): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();
  // No content sniffing (a script is only ever run as the type it is sent as) and no page URL
  // (with a token typed into it) leaking to other sites in Referer.
  app.use('/', pageHeaders);
  app.use('/demo/*', pageHeaders);
  app.get('/', (c) => {
    c.header('content-security-policy', CONTENT_SECURITY_POLICY);
    c.header('cache-control', 'no-cache');
    return c.html(html);
  });
  app.get('/demo/app.js', (c) =>
    c.body(script, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }),
  );
  app.get('/demo/style.css', (c) =>
    c.body(css, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'no-cache' }),
  );
  return app;
}

const pageHeaders: MiddlewareHandler<EdgeEnv> = async function pageHeaders(c, next) {
  await next();
  c.header('x-content-type-options', 'nosniff');
  c.header('referrer-policy', 'no-referrer');
};
