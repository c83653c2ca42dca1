import { spread } from '../stats';
import type { Compared, ScenarioContext } from './context';
import { perSystem, platforms } from './context';
import type { PlatformName } from '../platforms';

/** Scenario 2: deliveries per second of one node to one room, publisher on the same node. */
export interface FanoutRow {
  region: string;
  roomSize: number;
  deliveriesPerSecond: Compared;
  publishesPerSecond: Compared;
}

/**
 * For each region and room size: `roomSize` members (one user, so joining makes one presence event)
 * on the region's first node; one publisher on the same node keeps `window` publishes in flight
 * (a new one as soon as one is acked) for the warm-up and then the measured time; members count
 * `message` frames. The node does all the delivering, so deliveries/s is per node.
 */
export async function measureFanout(ctx: ScenarioContext): Promise<FanoutRow[]> {
  const { fanout, repetitions } = ctx.options;
  const rows: FanoutRow[] = [];
  for (const region of fanout.regions) {
    for (const roomSize of fanout.roomSizes) {
      const groups = new Map<string, string>();
      for (const platform of platforms(ctx.world)) {
        const group = `fan-${platform.name}-${region}-${roomSize}`;
        groups.set(platform.name, group);
        await ctx.load.run({
          kind: 'open',
          group,
          url: platform.node(region, 0).url,
          count: roomSize,
          room: `bench.fan.${group}`,
          users: 'one',
          concurrency: 50,
        });
      }
      const runs = perSystem(() => ({ d: [] as number[], p: [] as number[] }));
      for (let rep = 1; rep <= repetitions; rep++) {
        for (const platform of platforms(ctx.world)) {
          const group = groups.get(platform.name)!;
          const r = await ctx.load.run({
            kind: 'fanout',
            group,
            url: platform.node(region, 0).url,
            room: `bench.fan.${group}`,
            window: fanout.window,
            warmupMs: fanout.warmupMs,
            durationMs: fanout.durationMs,
          });
          runs[platform.name].d.push(r.deliveries / r.seconds);
          runs[platform.name].p.push(r.publishes / r.seconds);
          ctx.say(
            `fan-out ${region} room ${roomSize} ${rep}/${repetitions} ${platform.name}: ${Math.round(r.deliveries / r.seconds)} deliveries/s`,
          );
        }
      }
      for (const group of groups.values()) await ctx.load.run({ kind: 'close', group });
      rows.push({
        region,
        roomSize,
        deliveriesPerSecond: perSystem((n: PlatformName) => spread(runs[n].d)),
        publishesPerSecond: perSystem((n: PlatformName) => spread(runs[n].p)),
      });
    }
  }
  return rows;
}
