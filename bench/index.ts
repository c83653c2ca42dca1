/**
 * `npm run bench`: this platform against the peers (`seeds`: plain Socket.IO with the Redis adapter;
 * `streams`: with the Redis Streams adapter and connection state recovery; every peer node on one
 * shared Redis in us-east), over real processes with the simulation's WAN delays.
 * See docs/benchmarks.md for the method.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startLoadProcess } from './load';
import { describeMachine, keyVersions } from './machine';
import { SCENARIOS, type BenchOptions, type Scenario } from './options';
import { BENCH_NODE_ENV, HOME_REGION, startBenchWorld } from './platforms';
import { renderMarkdown } from './report';
import type { BenchResult } from './result';
import type { ScenarioContext } from './scenarios/context';
import { measureCluster } from './scenarios/cluster';
import { measureFanout } from './scenarios/fanout';
import { measureFootprint } from './scenarios/footprint';
import { measureHandshakes } from './scenarios/handshake';
import { measureHostile } from './scenarios/hostile';
import { measureEphemeralLatency, measureLatency, wanOverhead } from './scenarios/latency';
import { measureMemory } from './scenarios/memory';
import { measurePresenceJoin } from './scenarios/presence';
import { measureSaturation } from './scenarios/saturation';
import { waitForSteadyBus } from './settle';

export { HELP, parseBenchOptions, UsageError, type BenchOptions } from './options';
export type { BenchResult } from './result';

/** Where a run's files went. */
export interface BenchOutput {
  result: BenchResult;
  markdown: string;
  jsonPath: string;
  markdownPath: string;
  logDir: string;
}

/** What the run prints as each scenario starts. */
const SCENARIO_TITLES: Record<Scenario, string> = {
  latency: 'scenario 1 and 5: publish-to-receipt latency',
  ephemeral: 'scenario 1: ephemeral publishes',
  handshake: 'scenario 4: handshake latency through the edge',
  fanout: 'scenario 2: fan-out throughput',
  saturation: 'scenario 6: saturation of one node',
  presence: 'scenario 8: presence join cost',
  memory: 'scenario 3: memory per idle connection',
  footprint: 'scenario 9: steady-state footprint (ours)',
  cluster: 'scenario 10: our region on one Redis and on a Redis Cluster',
  hostile: 'scenario 7: a hostile client beside a well-behaved one',
};

/** Runs every scenario on the three systems, and writes `<date>.json` and `latest.md` (quick: `-quick`). */
export async function runBench(
  options: BenchOptions,
  say: (line: string) => void,
  /** Receives the function that stops every process of the run (for a Ctrl-C handler). */
  onStarted: (stop: () => Promise<void>) => void = () => undefined,
): Promise<BenchOutput> {
  const started = Date.now();
  const machine = describeMachine();
  const logDir = await mkdtemp(join(tmpdir(), 'rt-bench-'));
  say(`${options.mode} run; server logs in ${logDir}`);
  const world = await startBenchWorld(
    { regions: options.regions, nodesPerRegion: options.nodesPerRegion, logDir },
    say,
  );
  const load = startLoadProcess(world.jwtSecret);
  onStarted(async () => {
    await load.stop();
    await world.stop();
  });
  let result: BenchResult;
  try {
    const ctx: ScenarioContext = { world, load, options, say };
    await waitForSteadyBus(world.ours, say, options.mode === 'quick' ? 15_000 : 60_000);
    const step = async <T>(name: Scenario, measure: (ctx: ScenarioContext) => Promise<T[]>): Promise<T[]> => {
      if (!options.scenarios.includes(name)) return [];
      say(SCENARIO_TITLES[name]);
      return measure(ctx);
    };
    const latency = await step('latency', measureLatency);
    const ephemeral = await step('ephemeral', measureEphemeralLatency);
    const handshake = await step('handshake', measureHandshakes);
    const fanout = await step('fanout', measureFanout);
    const saturation = await step('saturation', measureSaturation);
    const presence = await step('presence', measurePresenceJoin);
    const memory = await step('memory', measureMemory);
    const footprint = await step('footprint', measureFootprint);
    const cluster = await step('cluster', measureCluster);
    // Last: what a hostile client leaves in our regional Redis must not reach another scenario.
    const hostile = await step('hostile', measureHostile);
    const wanOneWayMs: Record<string, number> = {};
    for (const a of options.regions)
      for (const b of options.regions) if (a < b) wanOneWayMs[`${a}<>${b}`] = world.wanMs(a, b);
    result = {
      schema: 2,
      date: new Date(started).toISOString(),
      mode: options.mode,
      durationS: Math.round((Date.now() - started) / 1000),
      machine,
      versions: keyVersions(),
      settings: { options, nodeEnv: BENCH_NODE_ENV, homeRegion: HOME_REGION, wanOneWayMs },
      scenarios: {
        latency: [...latency, ...ephemeral],
        fanout,
        saturation,
        hostile,
        presence,
        memory,
        handshake,
        wanOverhead: wanOverhead(latency),
        footprint,
        cluster,
      },
    };
  } finally {
    await load.stop();
    await world.stop();
  }

  const markdown = renderMarkdown(result);
  const outDir = resolve(options.outDir);
  await mkdir(outDir, { recursive: true });
  const suffix = options.mode === 'quick' ? '-quick' : '';
  const jsonPath = join(outDir, `${result.date.slice(0, 10)}${suffix}.json`);
  const markdownPath = join(outDir, `latest${suffix}.md`);
  await writeFile(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(markdownPath, markdown);
  const complete = options.scenarios.length === SCENARIOS.length && options.outDir === 'bench-results';
  if (options.mode === 'full' && complete) await updateDocsTable(markdown);
  return { result, markdown, jsonPath, markdownPath, logDir };
}

const DOCS = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/** A full run replaces the results section of docs/benchmarks.md (between its markers) with its own. */
async function updateDocsTable(markdown: string): Promise<void> {
  const docs = await readFile(DOCS, 'utf8').catch(() => undefined);
  const from = docs?.indexOf(START) ?? -1;
  const to = docs?.indexOf(END) ?? -1;
  if (!docs || from < 0 || to < from) return;
  // Two levels down: the run's title becomes a subsection of the page's "Results".
  const body = markdown.replace(/^(#+) /gm, '##$1 ').trim();
  await writeFile(DOCS, `${docs.slice(0, from + START.length)}\n\n${body}\n\n${docs.slice(to)}`);
}
