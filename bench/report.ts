import type { Machine } from './machine';
import type { BenchOptions } from './options';
import type { FanoutRow } from './scenarios/fanout';
import type { HandshakeRow, HandshakeWay } from './scenarios/handshake';
import type { LatencyPath, WanOverhead } from './scenarios/latency';
import type { MemoryRow } from './scenarios/memory';
import { fmt, formatSpread, type Spread } from './stats';
import { renderVerdict } from './verdict';

/** Everything one run measured: the JSON written under the results folder. */
export interface BenchResult {
  schema: 1;
  date: string;
  mode: BenchOptions['mode'];
  durationS: number;
  machine: Machine;
  versions: Record<string, string>;
  settings: {
    options: BenchOptions;
    nodeEnv: Record<string, string>;
    homeRegion: string;
    wanOneWayMs: Record<string, number>;
  };
  scenarios: {
    latency: LatencyPath[];
    fanout: FanoutRow[];
    memory: MemoryRow[];
    handshake: HandshakeRow[];
    wanOverhead: WanOverhead[];
  };
}

/** How many times better ours is (> 1) or worse (< 1): `baseline / ours` for costs. */
function costRatio(ours: number, baseline: number): string {
  if (!(ours > 0) || !(baseline > 0)) return 'n/a';
  const r = baseline / ours;
  return r >= 1 ? `${fmt(r)}x better` : `${fmt(1 / r)}x worse`;
}

function rateRatio(ours: number, baseline: number): string {
  return costRatio(baseline, ours);
}

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

const s = (x: Spread, unit = '') => formatSpread(x, unit);

/** The run as markdown: a header naming machine and settings, then one table per scenario. */
export function renderMarkdown(r: BenchResult): string {
  const o = r.settings.options;
  const { latency, fanout, memory, handshake, wanOverhead } = r.scenarios;
  const ways: HandshakeWay[] = ['ours: node', 'ours: region balancer', 'ours: edge', 'baseline: node'];
  return `# Benchmark ${r.date} (${r.mode})

Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.os}, Node ${r.machine.node}; load average at start ${r.machine.loadAverageAtStart}.
Versions: ${Object.entries(r.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}.
Settings: regions ${o.regions.join(', ')} x ${o.nodesPerRegion} nodes; global / shared Redis and Postgres in ${r.settings.homeRegion}; WAN one-way ${Object.entries(
    r.settings.wanOneWayMs,
  )
    .map(([k, v]) => `${k} ${v} ms`)
    .join(
      ', ',
    )}; ${o.repetitions} repetition(s), figures are median [min–max] over repetitions; run took ${r.durationS} s.
Ratios compare ours with the baseline: "better" means ours is faster, cheaper or delivers more.

## 1. Publish-to-receipt latency (ms, ${o.latency.count} publishes per path and repetition at ${o.latency.ratePerSecond}/s after ${o.latency.warmup} warm-up)

${table(
  [
    'path',
    'ours p50',
    'ours p99',
    'ours p999',
    'baseline p50',
    'baseline p99',
    'baseline p999',
    'p50',
    'p99',
  ],
  latency.map((p) => [
    p.path,
    s(p.figures.ours.p50),
    s(p.figures.ours.p99),
    s(p.figures.ours.p999),
    s(p.figures.baseline.p50),
    s(p.figures.baseline.p99),
    s(p.figures.baseline.p999),
    costRatio(p.figures.ours.p50.median, p.figures.baseline.p50.median),
    costRatio(p.figures.ours.p99.median, p.figures.baseline.p99.median),
  ]),
)}
${lostNote(latency)}
## 2. Fan-out: deliveries per second per node (publisher and members on one node, ${o.fanout.window} publishes in flight, ${o.fanout.durationMs / 1000} s measured after ${o.fanout.warmupMs / 1000} s)

${table(
  [
    'region',
    'room members',
    'ours',
    'baseline',
    'ours vs baseline',
    'ours publishes/s',
    'baseline publishes/s',
  ],
  fanout.map((f) => [
    f.region,
    String(f.roomSize),
    s(f.deliveriesPerSecond.ours),
    s(f.deliveriesPerSecond.baseline),
    rateRatio(f.deliveriesPerSecond.ours.median, f.deliveriesPerSecond.baseline.median),
    s(f.publishesPerSecond.ours),
    s(f.publishesPerSecond.baseline),
  ]),
)}

## 3. Memory per idle connection (one node in ${o.memory.region}, KiB per connection over the empty node, after a full GC)

${table(
  [
    'connections',
    'ours RSS',
    'baseline RSS',
    'ours heap',
    'baseline heap',
    'ours node RSS MiB',
    'baseline node RSS MiB',
    'RSS',
  ],
  memory.map((m) => [
    fmt(m.connections),
    s(m.rssKiBPerConnection.ours),
    s(m.rssKiBPerConnection.baseline),
    s(m.heapKiBPerConnection.ours),
    s(m.heapKiBPerConnection.baseline),
    s(m.rssMiB.ours),
    s(m.rssMiB.baseline),
    costRatio(m.rssKiBPerConnection.ours.median, m.rssKiBPerConnection.baseline.median),
  ]),
)}

## 4. Handshake latency by way in (ms, p50; ${o.handshake.count} sequential handshakes per way and repetition)

${table(
  ['client region', ...ways, 'edge added (edge - node)', 'ours edge vs baseline node'],
  handshake.map((h) => [
    h.region,
    ...ways.map((w) => s(h.p50[w])),
    s(h.edgeAddedP50Ms),
    costRatio(h.p50['ours: edge'].median, h.p50['baseline: node'].median),
  ]),
)}

## 5. Cross-region delivery over the simulated WAN delay (measured / one-way WAN delay on the route)

${table(
  [
    'path',
    'route',
    'one-way WAN ms',
    'ours p50 ratio',
    'ours p99 ratio',
    'ours p50 added ms',
    'baseline p50 ratio',
    'baseline p99 ratio',
    'baseline p50 added ms',
  ],
  wanOverhead.map((w) => [
    w.path,
    w.route,
    String(w.wanMs),
    fmt(w.ratioP50.ours),
    fmt(w.ratioP99.ours),
    fmt(w.addedP50Ms.ours),
    fmt(w.ratioP50.baseline),
    fmt(w.ratioP99.baseline),
    fmt(w.addedP50Ms.baseline),
  ]),
)}

${renderVerdict(r)}`;
}

function lostNote(latency: LatencyPath[]): string {
  const lost = latency.flatMap((p) =>
    (['ours', 'baseline'] as const)
      .filter((n) => p.figures[n].lost > 0)
      .map((n) => `${p.path} (${n}): ${p.figures[n].lost}`),
  );
  return lost.length ? `\nEnvelopes not received within 5 s of the last publish: ${lost.join('; ')}.\n` : '';
}
