/**
 * Headers a client may not pass on to a region: Miniflare's and Cloudflare's own (`MF-CF-Blob`,
 * `cf-*`), the simulation's, and the ones the edge itself vouches for (secret, client address,
 * request id), which a client could otherwise forge. Header names come lowercased from `Headers`.
 */
const INTERNAL_HEADER =
  /^(?:mf-|cf-|x-sim-|x-edge-|x-forwarded-|x-real-ip$|forwarded$|cdn-loop$|x-request-id$)/;

export const EDGE_SECRET_HEADER = 'x-edge-secret';
export const REAL_IP_HEADER = 'x-real-ip';
export const REQUEST_ID_HEADER = 'x-request-id';

/** What the edge tells the region about a forwarded request. */
export interface ForwardInfo {
  requestId: string;
  /** The caller's address (`CF-Connecting-IP`, set by Cloudflare, never by the client). */
  clientIp: string | undefined;
  edgeSecret: string | undefined;
}

/** Removes internal headers from `headers` and adds the edge's own; `url` is the incoming URL. */
export function rewriteHeaders(headers: Headers, url: URL, info: ForwardInfo): void {
  const internal: string[] = [];
  headers.forEach((_value, name) => {
    if (INTERNAL_HEADER.test(name)) internal.push(name);
  });
  for (const name of internal) headers.delete(name);
  headers.set(REQUEST_ID_HEADER, info.requestId);
  if (info.edgeSecret) headers.set(EDGE_SECRET_HEADER, info.edgeSecret);
  if (info.clientIp) {
    headers.set(REAL_IP_HEADER, info.clientIp);
    headers.set('x-forwarded-for', info.clientIp);
  }
  headers.set('x-forwarded-proto', url.protocol.slice(0, -1));
  headers.set('x-forwarded-host', url.host);
}

/** The same path and query on `origin` (which may carry a path prefix). */
export function targetUrl(origin: string, url: URL): string {
  return `${origin.endsWith('/') ? origin.replace(/\/+$/, '') : origin}${url.pathname}${url.search}`;
}

/**
 * The request to send to `origin`. Without `body` the incoming request is passed through as is
 * (`new Request(target, incoming)`), which keeps a WebSocket upgrade intact; with `body` (buffered,
 * so it can be sent again on failover) a fresh request is built.
 */
export function originRequest(
  incoming: Request,
  url: URL,
  origin: string,
  info: ForwardInfo,
  body?: ArrayBuffer,
): Request {
  const target = targetUrl(origin, url);
  const request =
    body === undefined
      ? new Request(target, incoming)
      : new Request(target, { method: incoming.method, headers: incoming.headers, body, redirect: 'manual' });
  rewriteHeaders(request.headers, url, info);
  return request;
}

export function clientIpOf(request: Request): string | undefined {
  return request.headers.get('cf-connecting-ip') ?? undefined;
}
