import { parseArgs } from 'node:util';

export const SCENARIOS = ['latency', 'handshake', 'fanout', 'memory'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Everything a bench run does; `--quick` and the full run are two presets of it. */
export interface BenchOptions {
  mode: 'full' | 'quick';
  /** Scenarios to run (scenario 5 comes with latency); all by default. */
  scenarios: Scenario[];
  regions: string[];
  nodesPerRegion: number;
  /** Measured repetitions of each scenario, per platform, alternating ours and baseline. */
  repetitions: number;
  latency: {
    /** Regions that publish (each with receivers on its node, its other node and one node per other region). */
    origins: string[];
    count: number;
    warmup: number;
    ratePerSecond: number;
  };
  fanout: { regions: string[]; roomSizes: number[]; window: number; warmupMs: number; durationMs: number };
  memory: { region: string; connections: number[]; settleMs: number };
  handshake: { regions: string[]; count: number; warmup: number };
  /** The cross-region path scenario 5 reports first. */
  headlinePath: { from: string; to: string };
  outDir: string;
}

export const HELP = `Usage: npm run bench [-- options]

Measures this platform against the baseline (every region node on one shared Socket.IO Redis adapter
in us-east, no edge, no bus) in the same run, over real processes with the simulation's WAN delays:
publish-to-receipt latency, fan-out throughput, memory per idle connection, the edge's added handshake
latency, and cross-region latency over the WAN delay. Prints a markdown table and writes
<out>/<date>.json and <out>/latest.md.

Options:
  --quick          a smoke run (< about a minute, small counts, one repetition): checks that every
                   scenario runs and reports; its figures are not the benchmark's
  --out DIR        results folder (default bench-results)
  --repetitions N  measured repetitions per scenario (default 3, quick 1)
  --only LIST      comma-separated scenarios to run: ${SCENARIOS.join(', ')} (default all;
                   cross-region over WAN comes with latency)
  -h, --help       this text

A full run with every scenario into the default folder also rewrites the results section of
docs/benchmarks.md.

Run it on a quiet machine: other load on the same cores shows up in every figure.
`;

export class UsageError extends Error {}

const FULL: Omit<BenchOptions, 'outDir'> = {
  mode: 'full',
  scenarios: [...SCENARIOS],
  regions: ['us-east', 'eu-west', 'ap-southeast'],
  nodesPerRegion: 2,
  repetitions: 3,
  latency: { origins: ['eu-west', 'us-east'], count: 1000, warmup: 100, ratePerSecond: 100 },
  fanout: {
    regions: ['eu-west', 'us-east'],
    roomSizes: [10, 100, 1000],
    window: 32,
    warmupMs: 1_000,
    durationMs: 3_000,
  },
  memory: { region: 'us-east', connections: [1_000, 5_000, 10_000], settleMs: 1_000 },
  handshake: { regions: ['eu-west', 'us-east'], count: 100, warmup: 10 },
  headlinePath: { from: 'eu-west', to: 'ap-southeast' },
};

const QUICK: Omit<BenchOptions, 'outDir'> = {
  mode: 'quick',
  scenarios: [...SCENARIOS],
  regions: ['us-east', 'eu-west'],
  nodesPerRegion: 2,
  repetitions: 1,
  latency: { origins: ['eu-west'], count: 150, warmup: 20, ratePerSecond: 200 },
  fanout: { regions: ['eu-west'], roomSizes: [10, 100, 1000], window: 16, warmupMs: 300, durationMs: 700 },
  memory: { region: 'us-east', connections: [100, 300, 500], settleMs: 300 },
  handshake: { regions: ['eu-west'], count: 10, warmup: 2 },
  headlinePath: { from: 'eu-west', to: 'us-east' },
};

/** Parses `npm run bench` arguments; throws a UsageError with one line saying what is wrong. */
export function parseBenchOptions(argv: string[]): BenchOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean' },
        out: { type: 'string' },
        repetitions: { type: 'string' },
        only: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  if (values.out === '') throw new UsageError('--out: must name a folder');
  const preset = values.quick ? QUICK : FULL;
  const repetitions = Number(values.repetitions ?? preset.repetitions);
  if (!Number.isInteger(repetitions) || repetitions < 1 || repetitions > 20)
    throw new UsageError('--repetitions: must be a whole number from 1 to 20');
  const scenarios =
    values.only === undefined ? preset.scenarios : values.only.split(',').map((x) => x.trim());
  for (const name of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(name))
      throw new UsageError(`--only: unknown scenario ${name} (known: ${SCENARIOS.join(', ')})`);
  }
  return {
    ...preset,
    scenarios: scenarios as Scenario[],
    repetitions,
    outDir: values.out ?? 'bench-results',
  };
}
