import type { Context } from 'hono';
import { regionStates, type RegionState } from '../shared/regions';
import { callerOf } from './caller';
import type { EdgeEnv } from './env';
import type { EdgeConfig } from './config';
import type { HealthReader, HealthSnapshot } from './health';
import { originUrl, type OriginTarget } from './origins';
import { routeToRegion, type Caller, type RoutePlan } from './routing';

/** Everything the edge decided about one request: who is calling, what is healthy, where to go. */
export interface RouteDecision {
  caller: Caller;
  health: HealthSnapshot;
  states: RegionState[];
  plan: RoutePlan;
  /** Where to send a new session or API call, best first (the rest is the failover order). */
  targets: OriginTarget[];
}

/** Most regions one request tries before giving up. */
export const MAX_ATTEMPTS = 3;

export async function decideRoute(
  request: Request,
  config: EdgeConfig,
  readHealth: HealthReader,
  now: number,
  background?: (work: Promise<unknown>) => void,
): Promise<RouteDecision> {
  const health = await readHealth(config, background);
  const states = regionStates(config.regions, health.source === 'live' ? health.entries : undefined, now);
  const caller = callerOf(request, config.sim);
  const plan = routeToRegion(states, caller);
  const targets = plan.choices.slice(0, MAX_ATTEMPTS).map((choice) => ({
    region: choice.region,
    url: originUrl(
      config,
      choice.region,
      states.find((s) => s.region.id === choice.region.id),
    ),
    reason: choice.reason,
    distanceKm: choice.distanceKm,
  }));
  return { caller, health, states, plan, targets };
}

/** The states of a decision, as `/v1/regions` shows them. */
export function describeRegions(decision: Pick<RouteDecision, 'health' | 'states'>) {
  const { health, states } = decision;
  return {
    health: {
      source: health.source,
      ...(health.reason ? { reason: health.reason } : {}),
      readAt: health.readAt,
    },
    regions: states.map((s) => ({
      id: s.region.id,
      lat: s.region.lat,
      lon: s.region.lon,
      status: s.status,
      nodes: s.nodes.map((n) => ({
        node: n.node,
        connections: n.connections,
        capacity: n.capacity,
        load: n.load,
        draining: n.draining,
        fresh: n.fresh,
      })),
    })),
  };
}

/**
 * The request's `waitUntil`, so work started for it (a health refresh) may finish after the response;
 * undefined where the runtime gives none (an app called directly in a test).
 */
export function backgroundOf(c: Context<EdgeEnv>): ((work: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  }
}
