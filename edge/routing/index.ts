/**
 * Routing: where a request goes. Who is calling (`caller.ts`), what is healthy (`health.ts`, the
 * heartbeats read over Upstash REST and cached per isolate), the pure choice of regions
 * (`route-to-region.ts`) and the URL that reaches each (`origins.ts`), put together per request by
 * `decision.ts`; `routes.ts` shows it (`/healthz`, `/v1/regions`, `/v1/route`).
 */
export { callerOf, SIM_GEO_HEADER } from './caller';
export { backgroundOf, decideFor, decideRoute, describeRegions, MAX_ATTEMPTS, statesAt } from './decision';
export type { RouteDecision } from './decision';
export { healthFromHash, readHealth } from './health';
export type { HealthReader, HealthSnapshot } from './health';
export { originUrl } from './origins';
export type { OriginTarget } from './origins';
export { routeToRegion } from './route-to-region';
export type { Caller, RouteChoice, RoutePlan, RouteReason } from './route-to-region';
export { routingRoutes } from './routes';
