import { nodeAccepts, type Region, type RegionState } from '../../shared/regions';
import type { EdgeConfig } from '../config';
import type { RouteChoice } from './route-to-region';

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
