import { REQUEST_ID_HEADER } from './forwarding';
import type { OriginTarget } from './origins';

export const EDGE_REGION_HEADER = 'x-edge-region';

/**
 * A region's response on its way back to the client, labelled with the region and request id.
 * A 101 (WebSocket) is returned untouched: it carries the socket, and a copy would not.
 */
export function passOn(response: Response, target: OriginTarget, requestId: string): Response {
  if (response.status === 101) return response;
  const copy = new Response(response.body, response);
  copy.headers.set(EDGE_REGION_HEADER, target.region.id);
  copy.headers.set(REQUEST_ID_HEADER, requestId);
  return copy;
}
