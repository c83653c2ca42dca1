import { Hono, type Context } from 'hono';
import type { EdgeDeps, EdgeEnv } from '../env';
import { errorResponse } from '../errors';
import { proxyToRegion } from '../proxy';
import { decideFor } from '../routing';
import { authenticate, type ApiCallers } from './auth';
import { readBounded } from './body';

/** Largest API body the edge buffers (the region enforces the contract's 64 KiB limit on `data`). */
export const MAX_API_BODY_BYTES = 1024 * 1024;

/** Reads move on to the next region after a 5xx; writes do not (the region may have accepted them). */
const READ = { moveOnStatus: (status: number) => status >= 500 };
const WRITE = { moveOnStatus: () => false };

/**
 * The contract's HTTP API (`/v1/rooms/...`) and the server API (`/v1/broadcast`, `/v1/users/...`),
 * mounted at `/v1`: forwarded to the nearest open region once the bearer token or the `x-api-key`
 * checks out here, so bad credentials never reach a region (which checks them again). The body is
 * buffered so the request can go to the next region when one does not connect.
 */
export function apiRoutes(deps: EdgeDeps): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();
  app.all('/rooms/*', forwardApi(deps, 'user'));
  app.all('/broadcast', forwardApi(deps, 'server'));
  app.all('/users/*', forwardApi(deps, 'server'));
  return app;
}

function forwardApi(deps: EdgeDeps, callers: ApiCallers) {
  return async function api(c: Context<EdgeEnv>): Promise<Response> {
    const url = new URL(c.req.url);
    // Decided while the credentials are checked and the body is read: when the isolate's health
    // read has expired, its Upstash round trip overlaps them instead of following them. (It never
    // rejects: a failed read routes on the static registry.)
    const decision = decideFor(c, deps, url);
    const refused = await authenticate(c, callers);
    if (refused) return refused;
    const reads = c.req.method === 'GET' || c.req.method === 'HEAD';
    let body: ArrayBuffer | undefined;
    if (!reads) {
      if (Number(c.req.header('content-length') ?? 0) > MAX_API_BODY_BYTES) return tooLarge(c);
      body = await readBounded(c.req.raw, MAX_API_BODY_BYTES);
      if (body === undefined) return tooLarge(c);
    }
    const { targets } = await decision;
    if (targets.length === 0) return errorResponse(c, 'unavailable', 'no region is available');
    return proxyToRegion(c, url, targets, reads ? READ : { ...WRITE, body });
  };
}

function tooLarge(c: Context<EdgeEnv>): Response {
  return errorResponse(c, 'too_large', `body over ${MAX_API_BODY_BYTES} bytes`);
}
