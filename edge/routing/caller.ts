import { parseGeo, type GeoPoint } from '../../shared/geo';
import type { Caller } from './route-to-region';

/** The part of `request.cf` routing reads (Cloudflare sends coordinates as strings). */
interface CfLocation {
  latitude?: unknown;
  longitude?: unknown;
  continent?: unknown;
}

/** Header a simulated client uses to say where it is (SIM = "1" only). */
export const SIM_GEO_HEADER = 'x-sim-geo';

/**
 * The caller's location: in simulation mode `geo=LAT,LON` (query) or `x-sim-geo` first, then
 * `request.cf` (whose latitude and longitude are strings). Outside simulation mode only `cf` counts.
 * `url` is the request's URL, parsed once by the caller.
 */
export function callerOf(request: Request, url: URL, sim: boolean): Caller {
  const cf = (request as { cf?: CfLocation }).cf;
  const continent = typeof cf?.continent === 'string' ? cf.continent : undefined;
  if (sim) {
    const query = parseGeo(url.searchParams.get('geo'));
    if (query) return { point: query, continent, source: 'sim-query' };
    const header = parseGeo(request.headers.get(SIM_GEO_HEADER));
    if (header) return { point: header, continent, source: 'sim-header' };
  }
  const point = cfPoint(cf?.latitude, cf?.longitude);
  return { point, continent, source: point ? 'cf' : 'none' };
}

/**
 * Everything `callerOf` reads from a request, as one string: two requests with the same key are
 * the same caller, so a routing decision made for one holds for the other.
 */
export function callerKey(request: Request, url: URL, sim: boolean): string {
  const cf = (request as { cf?: CfLocation }).cf;
  const simulated = sim ? `${url.searchParams.get('geo')}|${request.headers.get(SIM_GEO_HEADER)}` : '';
  return `${simulated}|${String(cf?.latitude)}|${String(cf?.longitude)}|${String(cf?.continent)}`;
}

function cfPoint(lat: unknown, lon: unknown): GeoPoint | undefined {
  if (typeof lat !== 'string' || typeof lon !== 'string') return undefined;
  return parseGeo(`${lat},${lon}`);
}
