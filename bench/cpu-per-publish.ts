/**
 * CPU time per 1,000 publishes, per process, across our whole local world: three regions of two
 * nodes, the WAN relays, a Redis per region, the global Redis, a Postgres primary with a replica. The
 * load is the latency scenario's (a publisher on the first node of each origin, receivers on the same
 * node, the region's other node and the first node of every other region, at the scenario's rate);
 * user + system ticks are read from /proc/<pid>/stat of every process before and after the measured
 * publishes. CPU time is far less disturbed by other load on the machine than latency is.
 *
 *   node --import tsx bench/cpu-per-publish.ts [--count 1000] [--rate 100] [--runs 1] [--closed] (--help)
 */
import { Redis } from 'ioredis';
import { parseCliArgs, UsageError } from '../harness/cli-args';
import { startWorld, type LocalWorld } from '../harness/world/world';
import { startLoadProcess, type LatencyTask, type LoadProcess } from './load';
import { signBenchToken } from './load/token';
import { WireSocket, isMessageFrame } from './load/wire';
import { BENCH_NODE_ENV, HOME_REGION } from './platforms';
import { percentile } from './stats';
import { CLOCK_TICKS_PER_S, labelled, ticksByLabel } from './world-cpu';

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'];
const ORIGINS = ['eu-west', 'us-east'];

const OPTIONS = {
  count: { type: 'string', default: '1000' },
  rate: { type: 'string', default: '100' },
  runs: { type: 'string', default: '1' },
  idle: { type: 'string', default: '0' },
  /**
   * One publish at a time, the next once every receiver has the previous one (origins taking
   * turns): every envelope is a batch of its own in every process whatever the machine's other
   * load, and the idle cost measured beforehand over as long is subtracted.
   */
  closed: { type: 'boolean', default: false },
  /** A folder for a CPU profile of every node (written as the nodes drain at the end). */
  profile: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

const USAGE = `Usage: node --import tsx bench/cpu-per-publish.ts [options]

CPU time per 1,000 publishes for every process of our local world (three regions of two nodes, WAN
relays, a Redis per region, the global Redis, Postgres with a replica), read from /proc.

  --count N     publishes per origin and run (default 1000)
  --rate N      publishes per second per origin (default 100)
  --runs N      measured runs (default 1)
  --idle S      seconds of an idle reading first, subtracted from the runs (default 0)
  --closed      one publish at a time, the next once every receiver has the previous one
  --profile DIR a CPU profile of every node, written to DIR as the nodes drain at the end
  --help        this text
`;

function parseOptions() {
  try {
    return parseCliArgs(process.argv.slice(2), OPTIONS);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
}

const values = parseOptions();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
/** A whole number of at least `min` from option `name`, or exit 2 with the usage. */
function wholeNumber(name: 'count' | 'rate' | 'runs' | 'idle', min: number): number {
  const n = Number(values[name]);
  if (Number.isInteger(n) && n >= min) return n;
  console.error(`--${name} must be a whole number of at least ${min}, not "${values[name]}"\n\n${USAGE}`);
  process.exit(2);
}
const count = wholeNumber('count', 1);
const rate = wholeNumber('rate', 1);
const runs = wholeNumber('runs', 1);
/** Seconds of an idle reading (no publishes) before the runs: what the world spends doing nothing. */
const idleS = wholeNumber('idle', 0);

function task(world: LocalWorld, n: number, warmup: number): LatencyTask {
  const url = (region: string, i: number) => world.region(region).nodes[i]!.url;
  return {
    kind: 'latency',
    count: n,
    warmup,
    ratePerSecond: rate,
    origins: ORIGINS.map((from) => ({
      name: from,
      url: url(from, 0),
      receivers: [
        { path: `${from} same node`, url: url(from, 0) },
        { path: `${from} across nodes`, url: url(from, 1) },
        ...REGIONS.filter((to) => to !== from).map((to) => ({ path: `${from} -> ${to}`, url: url(to, 0) })),
      ],
    })),
  };
}

/** Commands a caller sends (not those a script runs), whose calls `INFO commandstats` counts apart. */
const CALLER_COMMANDS = ['eval', 'evalsha', 'xack', 'xreadgroup', 'publish', 'xautoclaim', 'get', 'set'];

/**
 * Per Redis of the world: read and write events it processed (`INFO stats`: about one per client
 * write, and per reply it wrote), and calls of the commands callers send (`INFO commandstats`; a
 * script's own commands are counted there too, so only `CALLER_COMMANDS`).
 */
async function redisCounts(world: LocalWorld): Promise<Map<string, number>> {
  const servers = [
    { name: 'global', url: world.globalRedis.url },
    ...world.regions.map((r) => ({ name: r.id, url: r.redis.server!.url })),
  ];
  const counts = new Map<string, number>();
  for (const { name, url } of servers) {
    const client = new Redis(url);
    try {
      const stats = await client.info('stats');
      for (const field of ['total_reads_processed', 'total_writes_processed']) {
        const value = new RegExp(`^${field}:(\\d+)`, 'm').exec(stats)?.[1];
        if (value)
          counts.set(`${name} ${field.replace('total_', '').replace('_processed', '')}`, Number(value));
      }
      const info = await client.info('commandstats');
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
        if (CALLER_COMMANDS.includes(match[1]!)) counts.set(`${name} ${match[1]}`, Number(match[2]));
    } finally {
      client.disconnect();
    }
  }
  return counts;
}

/** Publishes `n` envelopes one at a time (see `--closed`); returns how long that took, in ms. */
async function closedLoop(world: LocalWorld, n: number): Promise<{ ms: number; p50: number }> {
  const secret = new TextEncoder().encode(world.jwtSecret);
  const token = (user: string) => signBenchToken(secret, user, '1h');
  const url = (region: string, i: number) => world.region(region).nodes[i]!.url;
  let got = 0;
  let wake = () => undefined as void;
  const sockets: WireSocket[] = [];
  const origins = [];
  for (const from of ORIGINS) {
    const room = `cpu.${from}.${Math.random().toString(36).slice(2, 8)}`;
    const receivers = [
      url(from, 0),
      url(from, 1),
      ...REGIONS.filter((r) => r !== from).map((r) => url(r, 0)),
    ];
    for (const [i, at] of receivers.entries()) {
      const socket = await WireSocket.open(at, await token(`recv-${from}-${i}`), {
        onFrame: (frame) => {
          if (!isMessageFrame(frame)) return;
          got++;
          wake();
        },
      });
      await socket.join(room);
      sockets.push(socket);
    }
    const sender = await WireSocket.open(url(from, 0), await token(`send-${from}`));
    sockets.push(sender);
    origins.push({ room, sender, receivers: receivers.length });
  }
  const cycles: number[] = [];
  const started = performance.now();
  try {
    for (let i = 0; i < n; i++) {
      const origin = origins[i % origins.length]!;
      const expected = got + origin.receivers;
      const sent = performance.now();
      origin.sender.send('publish', { room: origin.room, data: { s: i } });
      await new Promise<void>((resolve) => {
        const deadline = setTimeout(resolve, 10_000);
        wake = () => {
          if (got < expected) return;
          clearTimeout(deadline);
          resolve();
        };
        wake();
      });
      cycles.push(performance.now() - sent);
    }
  } finally {
    for (const socket of sockets) socket.close();
  }
  return { ms: performance.now() - started, p50: percentile(cycles, 0.5) };
}

/** What the world spent over a wait with no publishes: ticks per label, Redis counts per key, and how long. */
interface IdleReading {
  ticks: Map<string, number>;
  calls: Map<string, number>;
  ms: number;
}

/** `to` minus `from`, key by key (a key missing from `from` counts from 0). */
function difference(to: Map<string, number>, from: Map<string, number>): Map<string, number> {
  return new Map([...to].map(([key, n]) => [key, n - (from.get(key) ?? 0)]));
}

/** Entries sorted by key, for stable output. */
function sortedByKey(counts: Map<string, number>): [string, number][] {
  return [...counts].sort((a, b) => a[0].localeCompare(b[0]));
}

/** Prints the world's CPU ms per second over `idleS` seconds of no publishes (`--idle`). */
async function printIdleCost(world: LocalWorld, load: LoadProcess): Promise<void> {
  const labels = labelled(world, load);
  const before = ticksByLabel(labels);
  await new Promise((r) => setTimeout(r, idleS * 1000));
  const spent = difference(ticksByLabel(labels), before);
  console.log(`idle: CPU ms per second`);
  for (const [label, ticks] of sortedByKey(spent))
    console.log(`  ${label.padEnd(28)} ${((ticks * 10) / idleS).toFixed(1).padStart(6)}`);
}

/** Ten seconds of no publishes, subtracted from a `--closed` run in proportion to its length. */
async function readIdle(world: LocalWorld, labels: Map<number, string>): Promise<IdleReading> {
  const callsFrom = await redisCounts(world);
  const ticksFrom = ticksByLabel(labels);
  const started = performance.now();
  await new Promise((r) => setTimeout(r, 10_000));
  const ms = performance.now() - started;
  const ticks = difference(ticksByLabel(labels), ticksFrom);
  const calls = difference(await redisCounts(world), callsFrom);
  return { ticks, calls, ms };
}

/** One measured run: publishes (open loop through the load process, or `--closed`), then its figures. */
async function measureRun(world: LocalWorld, load: LoadProcess, run: number): Promise<void> {
  const labels = labelled(world, load);
  const idle = values.closed ? await readIdle(world, labels) : undefined;
  const callsBefore = await redisCounts(world);
  const before = ticksByLabel(labels);
  const publishes = values.closed ? count : count * ORIGINS.length;
  let result: Awaited<ReturnType<LoadProcess['run']>> | undefined;
  let elapsedMs = 0;
  if (values.closed) {
    const loop = await closedLoop(world, count);
    elapsedMs = loop.ms;
    console.log(
      `run ${run}: ${count} publishes one at a time in ${(loop.ms / 1000).toFixed(1)} s, cycle p50 ${loop.p50.toFixed(1)} ms`,
    );
  } else {
    result = await load.run(task(world, count, 0));
    // Let the last envelopes' history writes and acks finish before reading the clocks again.
    await new Promise((r) => setTimeout(r, 1_500));
  }
  const spent = difference(ticksByLabel(labels), before);
  const calls = difference(await redisCounts(world), callsBefore);
  /** The idle reading's share of `key` over as long as the run took; 0 without one. */
  const idleShare = (of: 'ticks' | 'calls', key: string) =>
    idle ? ((idle[of].get(key) ?? 0) * elapsedMs) / idle.ms : 0;
  console.log(
    `run ${run}: CPU ms per 1,000 publishes (${publishes}${values.closed ? ', idle subtracted' : ` at ${rate}/s per origin`})`,
  );
  let total = 0;
  for (const [label, ticks] of sortedByKey(spent)) {
    const ms = ((ticks - idleShare('ticks', label)) * 1000) / CLOCK_TICKS_PER_S;
    if (!label.startsWith('harness')) total += ms;
    console.log(`  ${label.padEnd(28)} ${((ms * 1000) / publishes).toFixed(0).padStart(6)}`);
  }
  console.log(
    `  ${'total (without the harness)'.padEnd(28)} ${((total * 1000) / publishes).toFixed(0).padStart(6)}`,
  );
  console.log(`run ${run}: Redis events and commands per 1,000 publishes${idle ? ' (idle subtracted)' : ''}`);
  for (const [key, n] of sortedByKey(calls)) {
    const per = ((n - idleShare('calls', key)) * 1000) / publishes;
    if (per >= 1) console.log(`  ${key.padEnd(28)} ${per.toFixed(0).padStart(6)}`);
  }
  if (result && 'samples' in result)
    for (const [path, samples] of Object.entries(result.samples))
      console.log(
        `  latency ${path.padEnd(26)} p50 ${percentile(samples, 0.5).toFixed(2)} p99 ${percentile(samples, 0.99).toFixed(2)} lost ${result.lost[path] ?? 0}`,
      );
}

async function main(): Promise<void> {
  const world = await startWorld({
    regions: REGIONS.map((id) => ({ id, nodes: 2 })),
    home: HOME_REGION,
    wan: true,
    postgres: { replicas: 1 },
    settings: BENCH_NODE_ENV,
    nodeShutdown: values.profile ? { drain: 3_000 } : 'kill',
    ...(values.profile ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] } : {}),
    nodeId: (region, n) => `${region}-${n}`,
    nodesAtOnce: true,
    readyTimeoutMs: 90_000,
    say: (line) => console.error(line),
  });
  const load = startLoadProcess(world.jwtSecret);
  try {
    await load.run(task(world, 200, 50));
    if (idleS > 0) await printIdleCost(world, load);
    for (let run = 1; run <= runs; run++) await measureRun(world, load, run);
  } finally {
    await load.stop();
    await world.stop();
  }
}

await main();
