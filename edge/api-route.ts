import type { Context } from 'hono';
import { ProtocolError } from '../shared/errors';
import type { EdgeDeps } from './app';
import { decideRoute } from './decision';
import type { EdgeEnv } from './env';
import { errorResponse, logEvent } from './errors';
import { clientIpOf, originRequest } from './forwarding';
import { fetchWithFailover } from './origins';
import { passOn } from './responses';

/** Largest API body the edge buffers (the region enforces the contract's 64 KiB limit on `data`). */
export const MAX_API_BODY_BYTES = 1024 * 1024;

/**
 * The contract's room API (`/v1/rooms/...`), forwarded to the nearest open region once the bearer
 * token checks out here, so bad tokens never reach a region. The body is buffered so the request can
 * go to the next region when one does not connect; reads (GET) also move on after a 5xx, writes do
 * not (the region may have accepted them).
 */
export function roomApiRoute(deps: EdgeDeps) {
  return async function roomApi(c: Context<EdgeEnv>): Promise<Response> {
    const config = c.get('config');
    if (!config.verifyToken) {
      return errorResponse(
        c,
        'unavailable',
        'edge misconfigured: no JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL',
        500,
      );
    }
    const header = c.req.header('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
    try {
      await config.verifyToken(token);
    } catch (err) {
      if (err instanceof ProtocolError) return errorResponse(c, err.code, err.message);
      throw err;
    }
    const reads = c.req.method === 'GET' || c.req.method === 'HEAD';
    let body: ArrayBuffer | undefined;
    if (!reads) {
      if (Number(c.req.header('content-length') ?? 0) > MAX_API_BODY_BYTES) return tooLarge(c);
      body = await c.req.raw.arrayBuffer();
      if (body.byteLength > MAX_API_BODY_BYTES) return tooLarge(c);
    }
    const decision = await decideRoute(c.req.raw, config, deps.readHealth, deps.now());
    if (decision.targets.length === 0) return errorResponse(c, 'unavailable', 'no region is available');
    const forward = {
      requestId: c.get('requestId'),
      clientIp: clientIpOf(c.req.raw),
      edgeSecret: config.edgeSecret,
    };
    const result = await fetchWithFailover(
      decision.targets,
      (t) => originRequest(c.req.raw, t.url, forward, body),
      (status) => reads && status >= 500,
    );
    if (result.failures.length > 0) {
      logEvent('warn', 'region did not answer', { requestId: forward.requestId, failures: result.failures });
    }
    if (!result.ok) return errorResponse(c, 'unavailable', 'no region answered');
    return passOn(result.response, result.target, forward.requestId);
  };
}

function tooLarge(c: Context<EdgeEnv>): Response {
  return errorResponse(c, 'too_large', `body over ${MAX_API_BODY_BYTES} bytes`);
}
