import type { LatencyTask } from '../load';
import { HOME_REGION, type BenchPlatform, type PlatformName } from '../platforms';
import { percentile, spread, type Spread } from '../stats';
import type { Compared, ScenarioContext } from './context';
import { platforms } from './context';

export type PathKind = 'same node' | 'across nodes' | 'across regions';

export interface LatencyFigures {
  p50: Spread;
  p99: Spread;
  p999: Spread;
  /** Samples per repetition. */
  samples: number;
  /** Envelopes a receiver never got, over all repetitions. */
  lost: number;
}

/** Scenario 1 (and the data of scenario 5): publish-to-receipt latency on one path. */
export interface LatencyPath {
  path: string;
  kind: PathKind;
  from: string;
  to: string;
  /** The way an envelope travels between regions (through the Redis in the home region). */
  route: string;
  /** One-way simulated WAN delay along `route` (0 within a region). */
  wanMs: number;
  figures: Compared<LatencyFigures>;
}

interface PathPlan {
  path: string;
  kind: PathKind;
  from: string;
  to: string;
  receiver: (p: BenchPlatform) => string;
}

function plan(ctx: ScenarioContext): PathPlan[] {
  const { origins } = ctx.options.latency;
  return origins.flatMap((from) => [
    { path: `${from} same node`, kind: 'same node', from, to: from, receiver: (p) => p.node(from, 0).url },
    {
      path: `${from} across nodes`,
      kind: 'across nodes',
      from,
      to: from,
      receiver: (p) => p.node(from, 1).url,
    },
    ...ctx.options.regions
      .filter((to) => to !== from)
      .map((to): PathPlan => ({
        path: `${from} -> ${to}`,
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

export async function measureLatency(ctx: ScenarioContext): Promise<LatencyPath[]> {
  const { latency, repetitions } = ctx.options;
  const paths = plan(ctx);
  const perRun = new Map<string, { p50: number[]; p99: number[]; p999: number[]; n: number; lost: number }>();
  const key = (name: PlatformName, path: string) => `${name}/${path}`;
  for (let rep = 1; rep <= repetitions; rep++) {
    for (const platform of platforms(ctx.world)) {
      const task: LatencyTask = {
        kind: 'latency',
        count: latency.count,
        warmup: latency.warmup,
        ratePerSecond: latency.ratePerSecond,
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
    const figures = {} as Compared<LatencyFigures>;
    for (const name of ['ours', 'baseline'] as const) {
      const e = perRun.get(key(name, p.path))!;
      figures[name] = {
        p50: spread(e.p50),
        p99: spread(e.p99),
        p999: spread(e.p999),
        samples: e.n,
        lost: e.lost,
      };
    }
    return {
      path: p.path,
      kind: p.kind,
      from: p.from,
      to: p.to,
      route: route.join(' -> '),
      wanMs: route.slice(1).reduce((sum, r, i) => sum + ctx.world.wanMs(route[i]!, r), 0),
      figures,
    };
  });
}

/** Scenario 5: how far above the simulated WAN delay cross-region delivery is, as a ratio. */
export interface WanOverhead {
  path: string;
  route: string;
  wanMs: number;
  /** Measured p50 / one-way WAN delay on the route, and the same for p99. */
  ratioP50: Compared<number>;
  ratioP99: Compared<number>;
  /** Measured p50 minus the WAN delay, in ms. */
  addedP50Ms: Compared<number>;
}

export function wanOverhead(paths: LatencyPath[]): WanOverhead[] {
  return paths
    .filter((p) => p.kind === 'across regions' && p.wanMs > 0)
    .map((p) => ({
      path: p.path,
      route: p.route,
      wanMs: p.wanMs,
      ratioP50: {
        ours: p.figures.ours.p50.median / p.wanMs,
        baseline: p.figures.baseline.p50.median / p.wanMs,
      },
      ratioP99: {
        ours: p.figures.ours.p99.median / p.wanMs,
        baseline: p.figures.baseline.p99.median / p.wanMs,
      },
      addedP50Ms: {
        ours: p.figures.ours.p50.median - p.wanMs,
        baseline: p.figures.baseline.p50.median - p.wanMs,
      },
    }));
}
