import type { SaturationStep } from '../load';
import { spread, type Spread } from '../stats';
import { perSystem, platforms, type Compared, type ScenarioContext } from './context';

/** Scenario: the highest publish rate into a room of `roomSize` on one node with p99 under the limit. */
export interface SaturationRow {
  region: string;
  roomSize: number;
  p99LimitMs: number;
  /** Highest rate (publishes/s offered) held per repetition; 0 when even the first step failed. */
  heldPerSecond: Compared;
  /** Deliveries per second at that rate (held rate x room size). */
  deliveriesPerSecond: Compared;
  /** Every step of the last repetition, for the report's detail. */
  steps: Compared<SaturationStep[]>;
}

/**
 * For each system: a room of `roomSize` members and a publisher on the first node of the region; the
 * open-loop publish rate rises step by step (each step `stepMs`) until p99 of publish-to-receipt
 * passes the limit or deliveries fall short; the last step that held is the system's figure.
 */
export async function measureSaturation(ctx: ScenarioContext): Promise<SaturationRow[]> {
  const o = ctx.options.saturation;
  const held = perSystem(() => [] as number[]);
  const steps = perSystem(() => [] as SaturationStep[]);
  for (let rep = 1; rep <= o.repetitions; rep++) {
    for (const platform of platforms(ctx.world)) {
      const { region, repetitions: _, ...task } = o;
      const result = await ctx.load.run({ kind: 'saturation', url: platform.node(region, 0).url, ...task });
      const best = result.filter((s) => s.held).at(-1)?.rate ?? 0;
      held[platform.name].push(best);
      steps[platform.name] = result;
      const failed = result.find((s) => !s.held);
      ctx.say(
        `saturation ${rep}/${o.repetitions} ${platform.name}: held ${best}/s` +
          (failed
            ? ` (at ${failed.rate}/s p99 ${failed.p99.toFixed(0)} ms, ${(failed.delivered * 100).toFixed(1)}% delivered)`
            : ''),
      );
    }
  }
  const deliveries = (s: Spread): Spread => spread(s.runs.map((r) => r * o.roomSize));
  const heldPerSecond = perSystem((n) => spread(held[n]));
  return [
    {
      region: o.region,
      roomSize: o.roomSize,
      p99LimitMs: o.p99LimitMs,
      heldPerSecond,
      deliveriesPerSecond: perSystem((n) => deliveries(heldPerSecond[n])),
      steps,
    },
  ];
}
