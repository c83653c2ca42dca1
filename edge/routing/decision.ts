import type { Context } from 'hono';
import { regionStates, type RegionState } from '../../shared/regions';
import type { EdgeConfig } from '../config';
import type { EdgeDeps, EdgeEnv } from '../env';
import { callerKey, callerOf } from './caller';
import type { HealthReader, HealthSnapshot } from './health';
import { originUrl, type OriginTarget } from './origins';
import { routeToRegion, type Caller, type RoutePlan } from './route-to-region';

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

/** The routing decision for one request; `url` is the request's URL, parsed once by the caller. */
export async function decideRoute(
  request: Request,
  url: URL,
  config: EdgeConfig,
  readHealth: HealthReader,
  now: number,
  background?: (work: Promise<unknown>) => void,
): Promise<RouteDecision> {
  const health = await readHealth(config, background);
  const known = knownStates(config, health, now);
  const key = callerKey(request, url, config.sim);
  let route = known.routes.get(key);
  if (!route) {
    route = planRoute(config, known.states, callerOf(request, url, config.sim));
    if (known.routes.size >= MAX_ROUTES_PER_READ) known.routes.clear();
    known.routes.set(key, route);
  }
  return { health, states: known.states, ...route };
}

type Route = Pick<RouteDecision, 'caller' | 'plan' | 'targets'>;

function planRoute(config: EdgeConfig, states: RegionState[], caller: Caller): Route {
  const plan = routeToRegion(states, caller);
  const targets: OriginTarget[] = [];
  for (const choice of plan.choices.slice(0, MAX_ATTEMPTS)) {
    const state = states.find((s) => s.region.id === choice.region.id);
    targets.push({
      region: choice.region,
      url: originUrl(config, choice.region, state),
      reason: choice.reason,
      distanceKm: choice.distanceKm,
    });
  }
  return { caller, plan, targets };
}

/** What one health read means for routing, while it holds. */
interface KnownStates {
  regions: EdgeConfig['regions'];
  states: RegionState[];
  /** The first moment a heartbeat fresh in these states goes stale: from then on they are wrong. */
  validUntil: number;
  /** The decisions made on these states, by caller (`callerKey`): at most MAX_ROUTES_PER_READ. */
  routes: Map<string, Route>;
}

/** Distinct callers whose decisions one health read keeps (Cloudflare's locations are per city). */
const MAX_ROUTES_PER_READ = 256;

// Per isolate, per health snapshot: the states and decisions every request routes on until the
// next read, so a handshake neither rebuilds (and re-sorts) every region's nodes nor measures
// distances again for a caller already seen.
const statesCache = new WeakMap<HealthSnapshot, KnownStates>();

/**
 * The region states of `health` at `now`, reused while no heartbeat in them has expired: a node
 * whose heartbeat runs out between two reads (it crashed) stops taking sessions at that moment,
 * not at the next read.
 */
export function statesAt(config: EdgeConfig, health: HealthSnapshot, now: number): RegionState[] {
  return knownStates(config, health, now).states;
}

function knownStates(config: EdgeConfig, health: HealthSnapshot, now: number): KnownStates {
  const cached = statesCache.get(health);
  if (cached && cached.regions === config.regions && now < cached.validUntil) return cached;
  const entries = health.source === 'live' ? health.entries : undefined;
  const states = regionStates(config.regions, entries, now);
  let validUntil = Infinity;
  for (const entry of entries ?? []) {
    if (entry.expiresAt > now && entry.expiresAt < validUntil) validUntil = entry.expiresAt;
  }
  const known: KnownStates = { regions: config.regions, states, validUntil, routes: new Map() };
  statesCache.set(health, known);
  return known;
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

/** The routing decision for the request in `c` (its URL parsed here unless the caller has it). */
export function decideFor(
  c: Context<EdgeEnv>,
  deps: EdgeDeps,
  url = new URL(c.req.url),
): Promise<RouteDecision> {
  return decideRoute(c.req.raw, url, c.get('config'), deps.readHealth, deps.now(), backgroundOf(c));
}
