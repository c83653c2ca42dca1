import type { LatencyTask } from '../load';
import { HOME_REGION, type BenchPlatform, type PlatformName } from '../platforms';
import { percentile, spread, type Spread } from '../stats';
import type { Compared, ScenarioContext } from './context';
import { perSystem, platforms } from './context';

export type PathKind = 'same node' | 'across nodes' | 'across regions';

export interface LatencyFigures {
  p50: Spread;
  p99: Spread;
  p999: Spread;
  /** Samples per repetition. */
  samples: number;
  /** Envelopes a receiver never got, over all repetitions. */
  lost: number;
  /** The system refused the publishes (its error code), so nothing was measured. */
  refused?: string;
}

/** Scenario 1 (and the data of scenario 5): publish-to-receipt latency on one path. */
export interface LatencyPath {
  path: string;
  kind: PathKind;
  from: string;
  to: string;
  /** The way a peer's envelope travels between regions (through the shared Redis in the home region). */
  route: string;
  /** One-way simulated WAN delay of the direct path between the two regions (0 within a region): the floor. */
  wanMs: number;
  /** One-way simulated WAN delay along `route`. */
  viaHomeMs: number;
  /** Publishes made with `ephemeral: true` (live only, never stored). */
  ephemeral: boolean;
  figures: Compared<LatencyFigures>;
}

interface PathPlan {
  path: string;
  kind: PathKind;
  from: string;
  to: string;
  receiver: (p: BenchPlatform) => string;
}

function plan(ctx: ScenarioContext, origins: string[], suffix: string): PathPlan[] {
  return origins.flatMap((from) => [
    {
      path: `${from} same node${suffix}`,
      kind: 'same node',
      from,
      to: from,
      receiver: (p) => p.node(from, 0).url,
    },
    {
      path: `${from} across nodes${suffix}`,
      kind: 'across nodes',
      from,
      to: from,
      receiver: (p) => p.node(from, 1).url,
    },
    ...ctx.options.regions
      .filter((to) => to !== from)
      .map((to): PathPlan => ({
        path: `${from} -> ${to}${suffix}`,
        kind: 'across regions',
        from,
        to,
        receiver: (p) => p.node(to, 0).url,
      })),
  ]);
}

/** The route between two regions: straight when one of them is the home region, else through it. */
export function routeOf(from: string, to: string): string[] {
  if (from === to) return [from];
  if (from === HOME_REGION || to === HOME_REGION) return [from, to];
  return [from, HOME_REGION, to];
}

/** Scenario 1: every path from every origin region, regular publishes. */
export function measureLatency(ctx: ScenarioContext): Promise<LatencyPath[]> {
  const { latency } = ctx.options;
  return measurePaths(ctx, { ...latency, ephemeral: false });
}

/** Scenario 1's ephemeral rows: the same paths from one origin with `ephemeral: true`. */
export function measureEphemeralLatency(ctx: ScenarioContext): Promise<LatencyPath[]> {
  const { ephemeral } = ctx.options;
  return measurePaths(ctx, { ...ephemeral, origins: [ephemeral.origin], ephemeral: true });
}

async function measurePaths(
  ctx: ScenarioContext,
  latency: { origins: string[]; count: number; warmup: number; ratePerSecond: number; ephemeral: boolean },
): Promise<LatencyPath[]> {
  const { repetitions } = ctx.options;
  const paths = plan(ctx, latency.origins, latency.ephemeral ? ', ephemeral' : '');
  const perRun = new Map<
    string,
    { p50: number[]; p99: number[]; p999: number[]; n: number; lost: number; refused?: string }
  >();
  const key = (name: PlatformName, path: string) => `${name}/${path}`;
  for (let rep = 1; rep <= repetitions; rep++) {
    for (const platform of platforms(ctx.world)) {
      const task: LatencyTask = {
        kind: 'latency',
        count: latency.count,
        warmup: latency.warmup,
        ratePerSecond: latency.ratePerSecond,
        ephemeral: latency.ephemeral,
        origins: latency.origins.map((from) => ({
          name: from,
          url: platform.node(from, 0).url,
          receivers: paths
            .filter((p) => p.from === from)
            .map((p) => ({ path: p.path, url: p.receiver(platform) })),
        })),
      };
      const result = await ctx.load.run(task);
      for (const p of paths) {
        const samples = result.samples[p.path] ?? [];
        const entry = perRun.get(key(platform.name, p.path)) ?? { p50: [], p99: [], p999: [], n: 0, lost: 0 };
        entry.p50.push(percentile(samples, 0.5));
        entry.p99.push(percentile(samples, 0.99));
        entry.p999.push(percentile(samples, 0.999));
        entry.n = samples.length;
        entry.lost += result.lost[p.path] ?? 0;
        if (result.refused) entry.refused = result.refused;
        perRun.set(key(platform.name, p.path), entry);
      }
      const headline = paths.find((p) => p.kind === 'across regions') ?? paths[0]!;
      ctx.say(
        `latency ${rep}/${repetitions} ${platform.name}: ${headline.path} p50 ${percentile(result.samples[headline.path] ?? [], 0.5).toFixed(1)} ms`,
      );
    }
  }
  return paths.map((p) => {
    const route = routeOf(p.from, p.to);
    const figures = perSystem((name): LatencyFigures => {
      const e = perRun.get(key(name, p.path))!;
      return {
        p50: spread(e.p50),
        p99: spread(e.p99),
        p999: spread(e.p999),
        samples: e.n,
        lost: e.lost,
        ...(e.refused ? { refused: e.refused } : {}),
      };
    });
    return {
      path: p.path,
      kind: p.kind,
      from: p.from,
      to: p.to,
      route: route.join(' -> '),
      ephemeral: latency.ephemeral,
      wanMs: ctx.world.wanMs(p.from, p.to),
      viaHomeMs: route.slice(1).reduce((sum, r, i) => sum + ctx.world.wanMs(route[i]!, r), 0),
      figures,
    };
  });
}

/** Scenario 5: how far above the direct one-way WAN delay (the physical floor) delivery is. */
export interface WanOverhead {
  path: string;
  /** The peers' route, through the shared Redis in the home region. */
  route: string;
  /** Direct one-way WAN delay between the two regions. */
  wanMs: number;
  viaHomeMs: number;
  /** The goal for ours: p50 at most 1.1 x the direct delay + 3 ms. */
  goalP50Ms: number;
  /** Measured p50 / direct one-way WAN delay, and the same for p99. */
  ratioP50: Compared<number>;
  ratioP99: Compared<number>;
  /** Measured p50 minus the direct WAN delay, in ms. */
  addedP50Ms: Compared<number>;
}

export function wanOverhead(paths: LatencyPath[]): WanOverhead[] {
  return paths
    .filter((p) => p.kind === 'across regions' && p.wanMs > 0 && !p.ephemeral)
    .map((p) => ({
      path: p.path,
      route: p.route,
      wanMs: p.wanMs,
      viaHomeMs: p.viaHomeMs,
      goalP50Ms: 1.1 * p.wanMs + 3,
      ratioP50: perSystem((n) => p.figures[n].p50.median / p.wanMs),
      ratioP99: perSystem((n) => p.figures[n].p99.median / p.wanMs),
      addedP50Ms: perSystem((n) => p.figures[n].p50.median - p.wanMs),
    }));
}
