import type { Context } from 'hono';
import { ProtocolError } from '../shared/errors';
import { SERVER_API_KEY_HEADER, serverKeyMatches } from '../shared/server-keys';
import type { EdgeDeps } from './app';
import { backgroundOf, decideRoute } from './decision';
import type { EdgeEnv } from './env';
import { errorResponse, logEvent } from './errors';
import { clientIpOf, originRequest } from './forwarding';
import { fetchWithFailover } from './origins';
import { passOn } from './responses';

/** Largest API body the edge buffers (the region enforces the contract's 64 KiB limit on `data`). */
export const MAX_API_BODY_BYTES = 1024 * 1024;

/**
 * Who may call: `user` routes (`/v1/rooms/...`) take a bearer token or a server API key; `server`
 * routes (`/v1/broadcast`, `/v1/users/...`) take a server API key only.
 */
export type ApiCallers = 'user' | 'server';

/**
 * The contract's HTTP API (`/v1/rooms/...`) and the server API, forwarded to the nearest open region
 * once the bearer token or the `x-api-key` checks out here, so bad credentials never reach a region
 * (which checks them again). The body is buffered so the request can go to the next region when one
 * does not connect; reads (GET) also move on after a 5xx, writes do not (the region may have
 * accepted them).
 */
export function apiRoute(deps: EdgeDeps, callers: ApiCallers) {
  return async function api(c: Context<EdgeEnv>): Promise<Response> {
    const refused = await authenticate(c, callers);
    if (refused) return refused;
    const config = c.get('config');
    const reads = c.req.method === 'GET' || c.req.method === 'HEAD';
    let body: ArrayBuffer | undefined;
    if (!reads) {
      if (Number(c.req.header('content-length') ?? 0) > MAX_API_BODY_BYTES) return tooLarge(c);
      body = await readBounded(c.req.raw, MAX_API_BODY_BYTES);
      if (body === undefined) return tooLarge(c);
    }
    const decision = await decideRoute(c.req.raw, config, deps.readHealth, deps.now(), backgroundOf(c));
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

/** Checks the caller's credentials; returns the refusal, or undefined when they may go on. */
async function authenticate(c: Context<EdgeEnv>, callers: ApiCallers): Promise<Response | undefined> {
  const config = c.get('config');
  const apiKey = c.req.header(SERVER_API_KEY_HEADER);
  if (apiKey !== undefined || callers === 'server') {
    if (await serverKeyMatches(apiKey, config.serverApiKeys)) return undefined;
    const message =
      apiKey === undefined ? 'this call needs a server API key (header x-api-key)' : 'invalid server API key';
    return errorResponse(c, 'unauthorized', message);
  }
  if (!config.verifyToken) {
    const message = 'edge misconfigured: no JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL';
    return errorResponse(c, 'unavailable', message, 500);
  }
  const header = c.req.header('authorization') ?? '';
  const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
  try {
    await config.verifyToken(token);
    return undefined;
  } catch (err) {
    if (err instanceof ProtocolError) return errorResponse(c, err.code, err.message);
    throw err;
  }
}

/**
 * The body, read chunk by chunk, or undefined as soon as it passes `maxBytes` (the rest is never
 * read): a chunked body has no content-length to refuse it by up front.
 */
async function readBounded(request: Request, maxBytes: number): Promise<ArrayBuffer | undefined> {
  if (!request.body) return new ArrayBuffer(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body.buffer;
}

function tooLarge(c: Context<EdgeEnv>): Response {
  return errorResponse(c, 'too_large', `body over ${MAX_API_BODY_BYTES} bytes`);
}
