import type { Context } from 'hono';
import type { EdgeEnv } from '../env';
import { errorResponse, logEvent } from '../errors';
import type { OriginTarget } from '../routing';
import { REQUEST_ID_HEADER, clientIpOf, originRequest, type ForwardInfo } from './headers';

export const EDGE_REGION_HEADER = 'x-edge-region';

/** How one kind of request is passed on. */
export interface ProxyOptions {
  /** Whether an answer with this status moves on to the next target (otherwise it is the answer). */
  moveOnStatus: (status: number) => boolean;
  /** A buffered body (API writes, so it can be sent again); without it the request passes as is. */
  body?: ArrayBuffer;
}

/** A region that does not answer: the request never reached it, or it answered a status to move on from. */
interface OriginFailure {
  region: string;
  error: string;
}

/**
 * The edge's one way to a region, for Socket.IO (WebSocket and long-polling) and the HTTP API alike:
 * sends the request in `c` (whose URL the caller parsed once) to each target in turn, internal
 * headers stripped and the edge's added, until one answers. A connect error always moves on; an
 * answer moves on only when `moveOnStatus` says so, and the last target's answer is returned
 * whatever it is. Nothing answered: `503 unavailable`. Failures on the way are logged once.
 */
export async function proxyToRegion(
  c: Context<EdgeEnv>,
  url: URL,
  targets: readonly OriginTarget[],
  options: ProxyOptions,
): Promise<Response> {
  const incoming = c.req.raw;
  const forward: ForwardInfo = {
    requestId: c.get('requestId'),
    clientIp: clientIpOf(incoming),
    edgeSecret: c.get('config').edgeSecret,
  };
  let failures: OriginFailure[] | undefined;
  for (let index = 0; index < targets.length; index++) {
    const target = targets[index]!;
    try {
      const response = await fetch(originRequest(incoming, url, target.url, forward, options.body));
      if (index === targets.length - 1 || !options.moveOnStatus(response.status)) {
        if (failures) logFailures(forward.requestId, failures);
        return passOn(response, target, forward.requestId);
      }
      (failures ??= []).push({ region: target.region.id, error: `status ${response.status}` });
      await response.body?.cancel();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      (failures ??= []).push({ region: target.region.id, error });
    }
  }
  if (failures) logFailures(forward.requestId, failures);
  return errorResponse(c, 'unavailable', 'no region answered');
}

function logFailures(requestId: string, failures: OriginFailure[]): void {
  logEvent('warn', 'region did not answer', { requestId, failures });
}

/**
 * A region's response on its way back to the client, labelled with the region and request id.
 * A 101 (WebSocket) is returned untouched: it carries the socket, and a copy would not.
 */
function passOn(response: Response, target: OriginTarget, requestId: string): Response {
  if (response.status === 101) return response;
  const copy = new Response(response.body, response);
  copy.headers.set(EDGE_REGION_HEADER, target.region.id);
  copy.headers.set(REQUEST_ID_HEADER, requestId);
  return copy;
}
