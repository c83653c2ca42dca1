import { REGION_CATALOG } from '../../harness/world/catalog';
import { percentile, spread, type Spread } from '../stats';
import type { ScenarioContext } from './context';

/** How a handshake reaches a node. */
export type HandshakeWay =
  'ours: node' | 'ours: region balancer' | 'ours: edge' | 'seeds: node' | 'streams: node';

export const HANDSHAKE_WAYS: HandshakeWay[] = [
  'ours: node',
  'ours: region balancer',
  'ours: edge',
  'seeds: node',
  'streams: node',
];

/** Scenario 4: Socket.IO handshake time (WebSocket open to CONNECT ack) by way in, in one region. */
export interface HandshakeRow {
  region: string;
  p50: Record<HandshakeWay, Spread>;
  p99: Record<HandshakeWay, Spread>;
  /** Edge p50 minus direct-to-node p50, per repetition: the edge and the region balancer together. */
  edgeAddedP50Ms: Spread;
  /** Edge p50 minus region-balancer p50, per repetition: the edge's own hop in workerd. */
  edgeHopP50Ms: Spread;
}

/**
 * Sequential handshakes from a client in the region (no WAN between the client and its region, nor
 * between the edge and the region, as in the simulation): straight to a node, through the region's
 * balancer, through the edge in workerd (geo of the region, so it routes there; it passes through to
 * the balancer), and straight to a `seeds` and a `streams` node of the same region.
 */
export async function measureHandshakes(ctx: ScenarioContext): Promise<HandshakeRow[]> {
  const { handshake, repetitions } = ctx.options;
  const rows: HandshakeRow[] = [];
  for (const region of handshake.regions) {
    const { lat, lon } = REGION_CATALOG[region]!;
    const ways: { way: HandshakeWay; url: string; query?: Record<string, string> }[] = [
      { way: 'ours: node', url: ctx.world.ours.node(region, 0).url },
      {
        way: 'ours: region balancer',
        url: ctx.world.ours.regions.find((r) => r.id === region)!.balancerUrl!,
      },
      { way: 'ours: edge', url: ctx.world.edge, query: { geo: `${lat},${lon}` } },
      { way: 'seeds: node', url: ctx.world.seeds.node(region, 0).url },
      { way: 'streams: node', url: ctx.world.streams.node(region, 0).url },
    ];
    const p50 = new Map<HandshakeWay, number[]>();
    const p99 = new Map<HandshakeWay, number[]>();
    for (let rep = 1; rep <= repetitions; rep++) {
      for (const { way, url, query } of ways) {
        const times = await ctx.load.run({
          kind: 'handshake',
          url,
          ...(query ? { query } : {}),
          count: handshake.count,
          warmup: handshake.warmup,
        });
        p50.set(way, [...(p50.get(way) ?? []), percentile(times, 0.5)]);
        p99.set(way, [...(p99.get(way) ?? []), percentile(times, 0.99)]);
      }
      ctx.say(
        `handshake ${region} ${rep}/${repetitions}: ` +
          ways.map(({ way }) => `${way} ${p50.get(way)!.at(-1)!.toFixed(1)} ms`).join(', '),
      );
    }
    const added = p50.get('ours: edge')!.map((edge, i) => edge - p50.get('ours: node')![i]!);
    rows.push({
      region,
      p50: Object.fromEntries(ways.map(({ way }) => [way, spread(p50.get(way)!)])) as HandshakeRow['p50'],
      p99: Object.fromEntries(ways.map(({ way }) => [way, spread(p99.get(way)!)])) as HandshakeRow['p99'],
      edgeAddedP50Ms: spread(added),
      edgeHopP50Ms: spread(
        p50.get('ours: edge')!.map((edge, i) => edge - p50.get('ours: region balancer')![i]!),
      ),
    });
  }
  return rows;
}
