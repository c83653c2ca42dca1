import { parseCliArgs, UsageError } from '../harness/cli-args';
import type { HostileTask } from './load/protocol';

export const SCENARIOS = [
  'latency',
  'ephemeral',
  'handshake',
  'fanout',
  'saturation',
  'presence',
  'memory',
  'footprint',
  'cluster',
  // Last: what a hostile client does to our regional Redis must not reach another scenario.
  'hostile',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Everything a bench run does; `--quick` and the full run are two presets of it. */
export interface BenchOptions {
  mode: 'full' | 'quick';
  /** Scenarios to run (scenario 5 comes with latency); all by default. */
  scenarios: Scenario[];
  regions: string[];
  nodesPerRegion: number;
  /**
   * Measured repetitions of each scenario, per system, alternating ours, seeds and streams (memory,
   * saturation and presence have their own count, which `--repetitions` also sets).
   */
  repetitions: number;
  latency: {
    /** Regions that publish (each with receivers on its node, its other node and one node per other region). */
    origins: string[];
    count: number;
    warmup: number;
    ratePerSecond: number;
  };
  /** The latency paths of one origin again, publishing with `ephemeral: true`. */
  ephemeral: { origin: string; count: number; warmup: number; ratePerSecond: number };
  fanout: { regions: string[]; roomSizes: number[]; window: number; warmupMs: number; durationMs: number };
  saturation: {
    region: string;
    roomSize: number;
    timedMembers: number;
    /** Offered publish rates, tried in order until one does not hold. */
    rates: number[];
    stepMs: number;
    p99LimitMs: number;
    repetitions: number;
  };
  /** The hostile-neighbour scenario: the load process's task, on a node of `region`. */
  hostile: { region: string } & Omit<HostileTask, 'kind' | 'url'>;
  presence: { region: string; members: number; joins: number; repetitions: number };
  memory: { region: string; connections: number[]; settleMs: number; repetitions: number };
  footprint: {
    perRegion: number;
    rooms: number;
    window: number;
    dataBytes: number;
    /** Wait for the idempotency and dedup windows to pass before reading memory (full run). */
    waitForWindows: boolean;
    historyDeadlineMs: number;
  };
  handshake: { regions: string[]; count: number; warmup: number };
  /** A lone region of two of our nodes on one Redis server, then on a local Redis Cluster. */
  cluster: { region: string; count: number; warmup: number; ratePerSecond: number };
  /** The cross-region path scenario 5 reports first. */
  headlinePath: { from: string; to: string };
  outDir: string;
}

export const HELP = `Usage: npm run bench [-- options]

Measures this platform against two peers, plain Socket.IO servers with @socket.io/redis-adapter
(seeds) and with @socket.io/redis-streams-adapter and connection state recovery (streams), every peer
node of every region on one shared Redis in us-east, in the same run over real processes with the
simulation's WAN delays: publish-to-receipt latency (and ephemeral publishes), fan-out, saturation,
a hostile neighbour, presence join cost, memory per idle connection, the edge's added handshake
latency, cross-region latency over the WAN delay, and our steady-state footprint. Prints markdown
tables and writes <out>/<date>.json and <out>/latest.md.

Options:
  --quick          a smoke run (about a minute, small counts, one repetition): checks that every
                   scenario runs and reports; its figures are not the benchmark's
  --out DIR        results folder (default bench-results)
  --repetitions N  measured repetitions per scenario (default 3, and 2 for memory, 1 for saturation
                   and presence; quick 1)
  --only LIST      comma-separated scenarios to run: ${SCENARIOS.join(', ')} (default all;
                   cross-region over WAN comes with latency)
  -h, --help       this text

A full run with every scenario into the default folder also rewrites the results section of
docs/benchmarks.md.

Run it on a quiet machine: other load on the same cores shows up in every figure.
`;

const FULL: Omit<BenchOptions, 'outDir'> = {
  mode: 'full',
  scenarios: [...SCENARIOS],
  regions: ['us-east', 'eu-west', 'ap-southeast'],
  nodesPerRegion: 2,
  repetitions: 3,
  latency: { origins: ['eu-west', 'us-east'], count: 1000, warmup: 100, ratePerSecond: 100 },
  ephemeral: { origin: 'us-east', count: 500, warmup: 50, ratePerSecond: 100 },
  fanout: {
    regions: ['eu-west', 'us-east'],
    roomSizes: [10, 100, 1000],
    window: 32,
    warmupMs: 500,
    durationMs: 1_500,
  },
  saturation: {
    region: 'us-east',
    roomSize: 100,
    timedMembers: 10,
    // Coarse where every system holds, about 15% apart from 800/s on, where they part.
    rates: [
      100, 200, 400, 800, 950, 1100, 1250, 1450, 1650, 1900, 2200, 2500, 2900, 3300, 3800, 4400, 5000, 5800,
      6700, 7700, 9000,
    ],
    stepMs: 2_000,
    p99LimitMs: 100,
    repetitions: 1,
  },
  hostile: {
    region: 'us-east',
    calmClients: 5,
    calmRatePerClient: 10,
    quietMs: 6_000,
    hostileMs: 6_000,
    hostile: { publishesPerSecond: 20, joinsPerSecond: 2.5, historyPerSecond: 5, payloadBytes: 64 * 1024 },
  },
  presence: { region: 'us-east', members: 1_000, joins: 50, repetitions: 1 },
  memory: { region: 'us-east', connections: [1_000, 5_000, 10_000], settleMs: 1_000, repetitions: 2 },
  footprint: {
    perRegion: 34_000,
    rooms: 20,
    window: 16,
    dataBytes: 64,
    waitForWindows: true,
    historyDeadlineMs: 120_000,
  },
  handshake: { regions: ['eu-west', 'us-east'], count: 100, warmup: 10 },
  cluster: { region: 'bench-redis', count: 500, warmup: 50, ratePerSecond: 100 },
  headlinePath: { from: 'eu-west', to: 'ap-southeast' },
};

const QUICK: Omit<BenchOptions, 'outDir'> = {
  mode: 'quick',
  scenarios: [...SCENARIOS],
  regions: ['us-east', 'eu-west'],
  nodesPerRegion: 2,
  repetitions: 1,
  latency: { origins: ['eu-west'], count: 150, warmup: 20, ratePerSecond: 200 },
  ephemeral: { origin: 'eu-west', count: 60, warmup: 10, ratePerSecond: 200 },
  fanout: { regions: ['eu-west'], roomSizes: [10, 100, 1000], window: 16, warmupMs: 300, durationMs: 700 },
  saturation: { ...FULL.saturation, timedMembers: 5, rates: [50, 400], stepMs: 500 },
  hostile: { ...FULL.hostile, calmClients: 2, quietMs: 1_000, hostileMs: 1_000 },
  presence: { region: 'us-east', members: 30, joins: 5, repetitions: 1 },
  memory: { region: 'us-east', connections: [100, 300, 500], settleMs: 300, repetitions: 1 },
  footprint: {
    ...FULL.footprint,
    perRegion: 300,
    rooms: 5,
    window: 8,
    waitForWindows: false,
    historyDeadlineMs: 20_000,
  },
  handshake: { regions: ['eu-west'], count: 10, warmup: 2 },
  cluster: { region: 'bench-redis', count: 60, warmup: 10, ratePerSecond: 200 },
  headlinePath: { from: 'eu-west', to: 'us-east' },
};

export { UsageError };

/** Parses `npm run bench` arguments; throws a UsageError with one line saying what is wrong. */
export function parseBenchOptions(argv: string[]): BenchOptions | 'help' {
  const values = parseCliArgs(argv, {
    quick: { type: 'boolean' },
    out: { type: 'string' },
    repetitions: { type: 'string' },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
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
  const own = <T extends { repetitions: number }>(part: T): T =>
    values.repetitions === undefined ? part : { ...part, repetitions };
  return {
    ...preset,
    scenarios: scenarios as Scenario[],
    repetitions,
    memory: own(preset.memory),
    saturation: own(preset.saturation),
    presence: own(preset.presence),
    outDir: values.out ?? 'bench-results',
  };
}
