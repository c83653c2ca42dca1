import { nodeAccepts, type Region, type RegionState } from '../shared/regions';
import type { EdgeConfig } from './config';
import type { RouteChoice } from './routing';

/** One place to send a request: a region and the URL that reaches it. */
export interface OriginTarget {
  region: Region;
  url: string;
  reason: RouteChoice['reason'] | 'session';
  distanceKm: number | null;
}

/**
 * The URL for a region. Normally the region's own URL (its load balancer, which pins sessions by
 * `sid`). With DIRECT_TO_NODES the edge picks the node itself from the heartbeats: the node named
 * by the session, or for a new session the accepting node with the most room.
 */
export function originUrl(
  config: EdgeConfig,
  region: Region,
  state: RegionState | undefined,
  pinnedNode?: string,
): string {
  if (!config.directToNodes || !state) return region.url;
  if (pinnedNode) {
    return state.nodes.find((n) => n.node === pinnedNode && n.fresh)?.url ?? region.url;
  }
  const open = state.nodes.filter(nodeAccepts);
  open.sort(
    (a, b) => a.connections / a.capacity - b.connections / b.capacity || a.node.localeCompare(b.node),
  );
  return open[0]?.url ?? region.url;
}

/** A region that does not answer: the request never reached it, or it failed with a 5xx. */
export interface OriginFailure {
  region: string;
  error: string;
}

export type FailoverResult =
  | { ok: true; response: Response; target: OriginTarget; failures: OriginFailure[] }
  | { ok: false; failures: OriginFailure[] };

/**
 * Sends the request to each target in turn until one answers: a connect error always moves on; a
 * response moves on only when `retryStatus` says so (5xx on a handshake). The last target's answer
 * is returned whatever it is.
 */
export async function fetchWithFailover(
  targets: readonly OriginTarget[],
  build: (target: OriginTarget) => Request,
  retryStatus: (status: number) => boolean,
): Promise<FailoverResult> {
  const failures: OriginFailure[] = [];
  for (const [index, target] of targets.entries()) {
    const last = index === targets.length - 1;
    try {
      const response = await fetch(build(target));
      if (last || !retryStatus(response.status)) return { ok: true, response, target, failures };
      failures.push({ region: target.region.id, error: `status ${response.status}` });
      await response.body?.cancel();
    } catch (err) {
      failures.push({ region: target.region.id, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return { ok: false, failures };
}
