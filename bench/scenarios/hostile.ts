import { percentile, spread } from '../stats';
import { perSystem, platforms, type Compared, type ScenarioContext } from './context';

/** Scenario: a well-behaved client's publish acks, quiet and beside a hostile client on its node. */
export interface HostileRow {
  region: string;
  quietP50: Compared;
  quietP99: Compared;
  hostileP50: Compared;
  hostileP99: Compared;
  /** p99 under hostile load over quiet p99, per repetition (goal for ours: at most 2). */
  p99Ratio: Compared;
  /** What the hostile client's requests got in the last repetition (ack code -> count). */
  hostileAnswers: Compared<Record<string, number>>;
  calmFailures: Compared<number>;
}

/**
 * On a fresh node of the region per system (so that what the hostile client leaves behind cannot
 * touch another scenario), stopped afterwards: well-behaved publishers alone, then while a hostile
 * client publishes maximal `[{},{},...]` payloads, rejoins its room with `since` and reads
 * 100-envelope history pages, each at the rate our defaults allow one connection.
 */
type Runs = Compared<{ q50: number[]; q99: number[]; h50: number[]; h99: number[] }>;

export async function measureHostile(ctx: ScenarioContext): Promise<HostileRow[]> {
  const { region, ...task } = ctx.options.hostile;
  const runs: Runs = perSystem(() => ({ q50: [], q99: [], h50: [], h99: [] }));
  const answers = perSystem(() => ({}) as Record<string, number>);
  const failures = perSystem(() => 0);
  const systems = platforms(ctx.world);
  const nodes = await Promise.all(systems.map((p) => p.startNode(region, `${p.name}-hostile-${region}`)));
  try {
    for (let rep = 1; rep <= ctx.options.repetitions; rep++) {
      for (const [i, platform] of systems.entries()) {
        const r = await ctx.load.run({ kind: 'hostile', url: nodes[i]!.url, ...task });
        const e = runs[platform.name];
        e.q50.push(percentile(r.quiet, 0.5));
        e.q99.push(percentile(r.quiet, 0.99));
        e.h50.push(percentile(r.underHostile, 0.5));
        e.h99.push(percentile(r.underHostile, 0.99));
        answers[platform.name] = r.hostileAnswers;
        failures[platform.name] += r.calmFailures;
        ctx.say(
          `hostile ${rep}/${ctx.options.repetitions} ${platform.name}: p99 quiet ${e.q99.at(-1)!.toFixed(1)} ms, under hostile ${e.h99.at(-1)!.toFixed(1)} ms`,
        );
      }
    }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
  return [
    {
      region,
      quietP50: perSystem((n) => spread(runs[n].q50)),
      quietP99: perSystem((n) => spread(runs[n].q99)),
      hostileP50: perSystem((n) => spread(runs[n].h50)),
      hostileP99: perSystem((n) => spread(runs[n].h99)),
      p99Ratio: perSystem((n) => spread(runs[n].h99.map((h, i) => h / runs[n].q99[i]!))),
      hostileAnswers: answers,
      calmFailures: failures,
    },
  ];
}
