import { distanceKm, type GeoPoint } from '../../shared/geo';
import {
  CONTINENT_CENTRES,
  acceptsSessions,
  type Region,
  type RegionState,
  type RegionStatus,
} from '../../shared/regions';

/** Where a caller is, as far as the edge knows. */
export interface Caller {
  point: GeoPoint | undefined;
  /** Cloudflare's two-letter continent code (`request.cf.continent`). */
  continent: string | undefined;
  source: 'cf' | 'sim-query' | 'sim-header' | 'none';
}

/**
 * Why a region was picked: `nearest` (closest of all), `nearest-healthy` (closer regions were
 * skipped), `continent` (no coordinates; closest to the caller's continent), `default` (no location:
 * first open region of the registry), `failover` (a later candidate after the first failed).
 */
export type RouteReason = 'nearest' | 'nearest-healthy' | 'continent' | 'default' | 'failover';

export interface RouteChoice {
  region: Region;
  /** Great-circle distance from the caller, when the caller's coordinates are known. */
  distanceKm: number | null;
  reason: RouteReason;
}

export interface RoutePlan {
  /** Regions to try, best first; the rest are the failover order. Empty when none is open. */
  choices: RouteChoice[];
  /** Regions left out, with why. */
  skipped: { region: string; status: RegionStatus }[];
}

/**
 * Orders the regions a new session may go to: nearest by great-circle distance from the caller, or
 * from the centre of the caller's continent, or registry order; ties keep registry order. Regions
 * that are down, draining or over capacity are left out.
 */
export function routeToRegion(states: readonly RegionState[], caller: Caller): RoutePlan {
  const open = states.filter((s) => acceptsSessions(s.status));
  const skipped = states
    .filter((s) => !acceptsSessions(s.status))
    .map((s) => ({ region: s.region.id, status: s.status }));
  const from = caller.point ?? (caller.continent ? CONTINENT_CENTRES[caller.continent] : undefined);
  if (!from) {
    return {
      choices: open.map((s, i) => ({
        region: s.region,
        distanceKm: null,
        reason: i === 0 ? 'default' : 'failover',
      })),
      skipped,
    };
  }
  const measured = open
    .map((s, index) => ({ region: s.region, km: distanceKm(from, s.region), index }))
    .sort((a, b) => a.km - b.km || a.index - b.index);
  const nearestOverall = Math.min(...states.map((s) => distanceKm(from, s.region)));
  const firstReason = (km: number): RouteReason =>
    !caller.point ? 'continent' : km > nearestOverall ? 'nearest-healthy' : 'nearest';
  return {
    choices: measured.map((m, i) => ({
      region: m.region,
      distanceKm: caller.point ? Math.round(m.km * 10) / 10 : null,
      reason: i === 0 ? firstReason(m.km) : 'failover',
    })),
    skipped,
  };
}
