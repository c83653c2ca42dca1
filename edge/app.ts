import { Hono } from 'hono';
import { apiRoute } from './api-route';
import { registerDemoRoutes } from './demo';
import { devToken } from './dev-token';
import type { EdgeEnv } from './env';
import { errorResponse, logEvent } from './errors';
import { readHealth, type HealthReader } from './health';
import { registerInfoRoutes } from './info-routes';
import { apiCors, configuration, requestIds } from './middleware';
import { socketIoRoute } from './socket-route';

/** What the app needs from outside; tests pass their own health. */
export interface EdgeDeps {
  readHealth: HealthReader;
  now: () => number;
}

/**
 * The edge Worker: one hostname for every user. Socket.IO (WebSocket and long-polling) and the room
 * API go to the nearest healthy region; `/healthz`, `/v1/regions` and `/v1/route` describe the
 * routing; `/` is the demo page; `/dev/token` exists only in the simulation.
 */
export function createEdgeApp(options: Partial<EdgeDeps> = {}): Hono<EdgeEnv> {
  const deps: EdgeDeps = { readHealth, now: () => Date.now(), ...options };
  const app = new Hono<EdgeEnv>();

  app.use(requestIds());
  app.use(configuration());
  app.use('/v1/*', apiCors());
  app.use('/dev/*', apiCors());

  registerInfoRoutes(app, deps);
  app.get('/dev/token', devToken);
  app.all('/v1/rooms/*', apiRoute(deps, 'user'));
  app.all('/v1/broadcast', apiRoute(deps, 'server'));
  app.all('/v1/users/*', apiRoute(deps, 'server'));
  app.all('/socket.io/*', socketIoRoute(deps));
  registerDemoRoutes(app);

  app.notFound((c) => errorResponse(c, 'not_found', `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    logEvent('error', 'unhandled error', { requestId: c.get('requestId'), err: String(err) });
    return errorResponse(c, 'unavailable', 'internal error', 500);
  });
  return app;
}
