import type { Context } from 'hono';
import { parseSessionId } from '../shared/session';
import type { EdgeDeps } from './app';
import { backgroundOf, decideRoute } from './decision';
import type { EdgeEnv } from './env';
import { errorResponse, logEvent } from './errors';
import { clientIpOf, originRequest } from './forwarding';
import { fetchWithFailover, originUrl, type FailoverResult, type OriginTarget } from './origins';
import { passOn } from './responses';
import { regionStates } from '../shared/regions';

/**
 * Socket.IO through the edge. A request carrying `sid` belongs to a session made by a region node
 * (`{region}~{node}~{random}`, shared/session.ts) and goes to that region, so long-polling keeps
 * working; anything else is a handshake and goes to the nearest open region, failing over to the
 * next when a region does not connect or answers 5xx. The WebSocket upgrade is passed through and
 * the origin's 101 returned as is.
 */
export function socketIoRoute(deps: EdgeDeps) {
  return async function socketIo(c: Context<EdgeEnv>): Promise<Response> {
    const config = c.get('config');
    const forward = {
      requestId: c.get('requestId'),
      clientIp: clientIpOf(c.req.raw),
      edgeSecret: config.edgeSecret,
    };
    const sid = c.req.query('sid');
    let result: FailoverResult;
    if (sid !== undefined) {
      const pinned = parseSessionId(sid);
      const region = pinned && config.regions.find((r) => r.id === pinned.region);
      if (!pinned || !region) return errorResponse(c, 'invalid', 'unknown session id');
      const state = config.directToNodes
        ? regionStates(
            config.regions,
            (await deps.readHealth(config, backgroundOf(c))).entries,
            deps.now(),
          ).find((s) => s.region.id === region.id)
        : undefined;
      const target: OriginTarget = {
        region,
        url: originUrl(config, region, state, pinned.node),
        reason: 'session',
        distanceKm: null,
      };
      result = await fetchWithFailover([target], (t) => originRequest(c.req.raw, t.url, forward), never);
    } else {
      const decision = await decideRoute(c.req.raw, config, deps.readHealth, deps.now(), backgroundOf(c));
      if (decision.targets.length === 0) {
        return errorResponse(c, 'unavailable', 'no region is taking new sessions');
      }
      result = await fetchWithFailover(
        decision.targets,
        (t) => originRequest(c.req.raw, t.url, forward),
        (status) => status >= 500,
      );
    }
    if (result.failures.length > 0) {
      logEvent('warn', 'region did not answer', { requestId: forward.requestId, failures: result.failures });
    }
    if (!result.ok) {
      const tried = result.failures.map((f) => f.region).join(', ');
      return errorResponse(c, 'unavailable', `no region answered (tried ${tried})`);
    }
    return passOn(result.response, result.target, forward.requestId);
  };
}

const never = () => false;
