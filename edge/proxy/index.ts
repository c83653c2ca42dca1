/**
 * Proxy: how a request reaches a region once routing has chosen. One function (`proxyToRegion`)
 * serves the Socket.IO pass-through and the HTTP API: failover over the chosen targets, the
 * headers a region may trust (`headers.ts`), and the region's answer labelled on its way back.
 */
export { EDGE_REGION_HEADER, proxyToRegion } from './proxy';
export type { ProxyOptions } from './proxy';
export { REQUEST_ID_HEADER } from './headers';
