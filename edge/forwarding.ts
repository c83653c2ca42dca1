/**
 * Headers a client may not pass on to a region: Miniflare's and Cloudflare's own (`MF-CF-Blob`,
 * `cf-*`), the simulation's, and the ones the edge itself vouches for (secret, client address,
 * request id), which a client could otherwise forge.
 */
const INTERNAL_HEADERS = [
  /^mf-/,
  /^cf-/,
  /^x-sim-/,
  /^x-edge-/,
  /^x-real-ip$/,
  /^x-forwarded-/,
  /^forwarded$/,
  /^cdn-loop$/,
  /^x-request-id$/,
];

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

export function isInternalHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return INTERNAL_HEADERS.some((pattern) => pattern.test(lower));
}

/** Removes internal headers from `headers` and adds the edge's own. */
export function rewriteHeaders(headers: Headers, incoming: Request, info: ForwardInfo): void {
  const internal: string[] = [];
  headers.forEach((_value, name) => isInternalHeader(name) && internal.push(name));
  for (const name of internal) headers.delete(name);
  headers.set(REQUEST_ID_HEADER, info.requestId);
  if (info.edgeSecret) headers.set(EDGE_SECRET_HEADER, info.edgeSecret);
  if (info.clientIp) {
    headers.set(REAL_IP_HEADER, info.clientIp);
    headers.set('x-forwarded-for', info.clientIp);
  }
  const url = new URL(incoming.url);
  headers.set('x-forwarded-proto', url.protocol.replace(':', ''));
  headers.set('x-forwarded-host', url.host);
}

/** The same path and query on `origin` (which may carry a path prefix). */
export function targetUrl(origin: string, incoming: Request): string {
  const url = new URL(incoming.url);
  return `${origin.replace(/\/+$/, '')}${url.pathname}${url.search}`;
}

/**
 * The request to send to `origin`. Without `body` the incoming request is passed through as is
 * (`new Request(target, incoming)`), which keeps a WebSocket upgrade intact; with `body` (buffered,
 * so it can be sent again on failover) a fresh request is built.
 */
export function originRequest(
  incoming: Request,
  origin: string,
  info: ForwardInfo,
  body?: ArrayBuffer,
): Request {
  const target = targetUrl(origin, incoming);
  const request =
    body === undefined
      ? new Request(target, incoming)
      : new Request(target, { method: incoming.method, headers: incoming.headers, body, redirect: 'manual' });
  rewriteHeaders(request.headers, incoming, info);
  return request;
}

export function clientIpOf(request: Request): string | undefined {
  return request.headers.get('cf-connecting-ip') ?? undefined;
}
