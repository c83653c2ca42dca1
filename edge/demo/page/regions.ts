import type { NodeHeartbeat } from '../../../shared/wire';
import { h } from './dom';

/** One region as `GET /v1/regions` describes it. */
export interface RegionView {
  id: string;
  lat: number;
  lon: number;
  status: 'healthy' | 'down' | 'draining' | 'over_capacity' | 'unknown';
  nodes: (Pick<NodeHeartbeat, 'node' | 'connections' | 'capacity' | 'load' | 'draining'> & {
    fresh: boolean;
  })[];
}

/** `GET /v1/regions`: the registry with live health, and where the health came from. */
export interface RegionsSnapshot {
  health: { source: 'live' | 'static'; reason?: string; readAt: number };
  regions: RegionView[];
}

/** Reads `GET /v1/regions` now and every `everyMs`; `onError` gets a failed read. Returns a stop function. */
export function watchRegions(
  onSnapshot: (snapshot: RegionsSnapshot) => void,
  onError: (error: Error) => void,
  everyMs = 3_000,
): () => void {
  let stopped = false;
  const read = async () => {
    try {
      const response = await fetch('/v1/regions', { cache: 'no-store' });
      if (!response.ok) throw new Error(`GET /v1/regions answered ${response.status}`);
      if (!stopped) onSnapshot((await response.json()) as RegionsSnapshot);
    } catch (err) {
      if (!stopped) onError(err as Error);
    }
  };
  void read();
  const timer = setInterval(() => void read(), everyMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

const STATUS_LABEL: Record<RegionView['status'], string> = {
  healthy: 'healthy',
  down: 'down',
  draining: 'draining',
  over_capacity: 'full',
  unknown: 'unknown',
};

/** The regions list: status, nodes and connection counts, with the caller's region marked. */
export function renderRegions(list: HTMLElement, snapshot: RegionsSnapshot, current?: string): void {
  list.replaceChildren(
    ...snapshot.regions.map((region) => {
      const live = region.nodes.filter((n) => n.fresh);
      const connections = live.reduce((sum, n) => sum + n.connections, 0);
      const capacity = live.reduce((sum, n) => sum + n.capacity, 0);
      const share = capacity > 0 ? Math.min(100, (connections / capacity) * 100) : 0;
      const nodes = live.map((n) => `${n.node}: ${n.connections}${n.draining ? ' (draining)' : ''}`);
      return h(
        'li',
        { class: `region-row status-${region.status}`, 'data-region': region.id, title: nodes.join('\n') },
        h(
          'div',
          { class: 'region-line' },
          h('span', { class: 'dot', 'aria-hidden': 'true' }),
          h('strong', {}, region.id),
          region.id === current ? h('span', { class: 'tag' }, 'you') : '',
          h('span', { class: 'status' }, STATUS_LABEL[region.status]),
        ),
        snapshot.health.source === 'live'
          ? h(
              'div',
              { class: 'region-line muted small' },
              `${live.length} node${live.length === 1 ? '' : 's'} · `,
              h('span', { class: 'connections' }, String(connections)),
              ` connection${connections === 1 ? '' : 's'}`,
            )
          : h('div', { class: 'region-line muted small' }, 'no live health: routing on the registry alone'),
        meter(share),
      );
    }),
  );
}

/** A bar filled to `percent`; set through CSSOM, which the page's CSP allows (style attributes it does not). */
function meter(percent: number): HTMLElement {
  const fill = h('span');
  fill.style.width = `${percent.toFixed(1)}%`;
  return h('div', { class: 'meter' }, fill);
}
