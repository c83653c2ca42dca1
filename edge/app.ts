import { Hono } from 'hono';
import { apiRoutes } from './api';
import { demoRoutes } from './demo';
import { devRoutes } from './dev';
import type { EdgeDeps, EdgeEnv } from './env';
import { errorResponse, logEvent } from './errors';
import { apiCors, configuration, requestIds } from './middleware';
import { readHealth, routingRoutes } from './routing';
import { socketRoutes } from './socket';

export type { EdgeDeps } from './env';

/**
 * The edge Worker: one hostname for every user. Socket.IO (WebSocket and long-polling, `socket/`)
 * and the room and server API (`api/`) go to the nearest healthy region (`routing/`) through one
 * proxy (`proxy/`); `/healthz`, `/v1/regions` and `/v1/route` describe the routing; `/` is the demo
 * page (`demo/`); `/dev/token` exists only in the simulation (`dev/`).
 */
export function createEdgeApp(options: Partial<EdgeDeps> = {}): Hono<EdgeEnv> {
  const deps: EdgeDeps = { readHealth, now: () => Date.now(), ...options };
  const app = new Hono<EdgeEnv>();

  app.use(requestIds());
  app.use(configuration());
  app.use('/v1/*', apiCors());
  app.use('/dev/*', apiCors());

  app.route('/', routingRoutes(deps));
  app.route('/v1', apiRoutes(deps));
  app.route('/socket.io', socketRoutes(deps));
  app.route('/dev', devRoutes());
  app.route('/', demoRoutes());

  app.notFound((c) => errorResponse(c, 'not_found', `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    logEvent('error', 'unhandled error', { requestId: c.get('requestId'), err: String(err) });
    return errorResponse(c, 'unavailable', 'internal error', 500);
  });
  return app;
}
