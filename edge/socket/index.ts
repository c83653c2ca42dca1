import { Hono, type Context } from 'hono';
import type { RegionState } from '../../shared/regions';
import { parseSessionId } from '../../shared/session';
import type { EdgeDeps, EdgeEnv } from '../env';
import { errorResponse } from '../errors';
import { proxyToRegion, type ProxyOptions } from '../proxy';
import { backgroundOf, decideFor, originUrl, statesAt, type OriginTarget } from '../routing';

/** A handshake moves on to the next region when one answers 5xx. */
const HANDSHAKE: ProxyOptions = { moveOnStatus: (status) => status >= 500 };
/** A session lives on one region: its answer is the answer. */
const SESSION: ProxyOptions = { moveOnStatus: () => false };

/**
 * Socket.IO through the edge (mounted at `/socket.io`). A request carrying `sid` belongs to a
 * session made by a region node (`{region}~{node}~{random}`, shared/session.ts) and goes to that
 * region, so long-polling keeps working; anything else is a handshake and goes to the nearest open
 * region, failing over to the next when a region does not connect or answers 5xx. The WebSocket
 * upgrade is passed through and the origin's 101 returned as is.
 */
export function socketRoutes(deps: EdgeDeps): Hono<EdgeEnv> {
  return new Hono<EdgeEnv>().all('*', async function socketIo(c) {
    const url = new URL(c.req.url);
    const sid = url.searchParams.get('sid');
    if (sid !== null) {
      const target = await sessionTarget(c, deps, sid);
      if (!target) return errorResponse(c, 'invalid', 'unknown session id');
      return proxyToRegion(c, url, [target], SESSION);
    }
    const { targets } = await decideFor(c, deps, url);
    if (targets.length === 0) return errorResponse(c, 'unavailable', 'no region is taking new sessions');
    return proxyToRegion(c, url, targets, HANDSHAKE);
  });
}

/** Where the session `sid` lives: its region (or, with DIRECT_TO_NODES, its node), if it is ours. */
async function sessionTarget(
  c: Context<EdgeEnv>,
  deps: EdgeDeps,
  sid: string,
): Promise<OriginTarget | undefined> {
  const config = c.get('config');
  const pinned = parseSessionId(sid);
  const region = pinned && config.regions.find((r) => r.id === pinned.region);
  if (!pinned || !region) return undefined;
  let state: RegionState | undefined;
  if (config.directToNodes) {
    const health = await deps.readHealth(config, backgroundOf(c));
    state = statesAt(config, health, deps.now()).find((s) => s.region.id === region.id);
  }
  return { region, url: originUrl(config, region, state, pinned.node), reason: 'session', distanceKm: null };
}
