import { SYSTEMS, type PlatformName } from './platforms';
import type { Compared } from './scenarios/context';
import type { FootprintReport } from './scenarios/footprint';
import { HANDSHAKE_WAYS } from './scenarios/handshake';
import type { LatencyPath } from './scenarios/latency';
import { fmt, formatSpread, type Spread } from './stats';
import type { BenchResult } from './result';
import { renderVerdict } from './verdict';

const PEERS = SYSTEMS.filter((n) => n !== 'ours');

/** How ours compares with the better of the peers: `1.5x better` / `1.2x worse`. */
export function versusBestPeer(figures: Compared<number>, lowerIsBetter: boolean): string {
  const peers = PEERS.map((n) => figures[n]).filter((v) => v > 0);
  const ours = figures.ours;
  if (!(ours > 0) || peers.length === 0) return 'n/a';
  const best = lowerIsBetter ? Math.min(...peers) : Math.max(...peers);
  const r = lowerIsBetter ? best / ours : ours / best;
  return r >= 1 ? `${fmt(r)}x better` : `${fmt(1 / r)}x worse`;
}

const medians = (c: Compared): Compared<number> =>
  Object.fromEntries(SYSTEMS.map((n) => [n, c[n].median])) as Compared<number>;

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

const s = (x: Spread, unit = '') => formatSpread(x, unit);
/** One column per system: `<system> <label>`. */
const heads = (label: string) => SYSTEMS.map((n) => `${n} ${label}`);
const cells = (c: Compared) => SYSTEMS.map((n) => s(c[n]));
const mib = (bytes: number) => fmt(bytes / 1024 ** 2);

function header(r: BenchResult): string {
  const o = r.settings.options;
  return `# Benchmark ${r.date} (${r.mode})

Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.os}, Node ${r.machine.node}; load average at start ${r.machine.loadAverageAtStart}.
Versions: ${Object.entries(r.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}.
Settings: regions ${o.regions.join(', ')} x ${o.nodesPerRegion} nodes per system; our global Redis, each peer's shared Redis and Postgres in ${r.settings.homeRegion}; WAN one-way ${Object.entries(
    r.settings.wanOneWayMs,
  )
    .map(([k, v]) => `${k} ${v} ms`)
    .join(
      ', ',
    )}; ${o.repetitions} repetition(s) (memory ${o.memory.repetitions}, saturation ${o.saturation.repetitions}, presence ${o.presence.repetitions}), figures are median [min–max] over repetitions; run took ${r.durationS} s.
Systems: \`ours\` this platform; \`seeds\` plain Socket.IO with @socket.io/redis-adapter; \`streams\` plain Socket.IO with @socket.io/redis-streams-adapter and connection state recovery. "vs best peer" compares ours with the better of the two: "better" means ours is faster, cheaper or delivers more.`;
}

function latencySection(r: BenchResult): string {
  const o = r.settings.options;
  const rows = r.scenarios.latency.map((p) => {
    const refused = SYSTEMS.filter((n) => p.figures[n].refused);
    return [
      p.path,
      ...SYSTEMS.flatMap((n) =>
        p.figures[n].refused
          ? [`refused (${p.figures[n].refused})`, '', '']
          : [s(p.figures[n].p50), s(p.figures[n].p99), s(p.figures[n].p999)],
      ),
      refused.length ? 'n/a' : versusBestPeer(perQuantile(p, 'p50'), true),
      refused.length ? 'n/a' : versusBestPeer(perQuantile(p, 'p99'), true),
    ];
  });
  const head = [
    'path',
    ...SYSTEMS.flatMap((n) => [`${n} p50`, `${n} p99`, `${n} p999`]),
    'p50 vs best peer',
    'p99 vs best peer',
  ];
  return `## 1. Publish-to-receipt latency (ms; ${o.latency.count} publishes per path and repetition at ${o.latency.ratePerSecond}/s after ${o.latency.warmup} warm-up; ephemeral rows ${o.ephemeral.count} at ${o.ephemeral.ratePerSecond}/s, the peers ignore the flag)

${table(head, rows)}
${lostNote(r.scenarios.latency)}`;
}

function perQuantile(p: LatencyPath, q: 'p50' | 'p99'): Compared<number> {
  return Object.fromEntries(SYSTEMS.map((n) => [n, p.figures[n][q].median])) as Compared<number>;
}

function fanoutSection(r: BenchResult): string {
  const o = r.settings.options;
  return `## 2. Fan-out: deliveries per second per node (publisher and members on one node, ${o.fanout.window} publishes in flight, ${o.fanout.durationMs / 1000} s measured after ${o.fanout.warmupMs / 1000} s)

${table(
  ['region', 'room members', ...heads('deliveries/s'), 'ours vs best peer', ...heads('publishes/s')],
  r.scenarios.fanout.map((f) => [
    f.region,
    String(f.roomSize),
    ...cells(f.deliveriesPerSecond),
    versusBestPeer(medians(f.deliveriesPerSecond), false),
    ...cells(f.publishesPerSecond),
  ]),
)}`;
}

function memorySection(r: BenchResult): string {
  const o = r.settings.options;
  return `## 3. Memory per idle connection (a fresh node in ${o.memory.region} per system and repetition, KiB per connection over the empty node, after a full GC)

${table(
  ['connections', ...heads('heap'), 'heap vs best peer', ...heads('RSS'), ...heads('node RSS MiB')],
  r.scenarios.memory.map((m) => [
    fmt(m.connections),
    ...cells(m.heapKiBPerConnection),
    versusBestPeer(medians(m.heapKiBPerConnection), true),
    ...cells(m.rssKiBPerConnection),
    ...cells(m.rssMiB),
  ]),
)}`;
}

function handshakeSection(r: BenchResult): string {
  const o = r.settings.options;
  return `## 4. Handshake latency by way in (ms, p50; ${o.handshake.count} sequential handshakes per way and repetition)

${table(
  ['client region', ...HANDSHAKE_WAYS, 'edge added (edge - node)', "edge's own hop (edge - balancer)"],
  r.scenarios.handshake.map((h) => [
    h.region,
    ...HANDSHAKE_WAYS.map((w) => s(h.p50[w])),
    s(h.edgeAddedP50Ms),
    s(h.edgeHopP50Ms),
  ]),
)}`;
}

function wanSection(r: BenchResult): string {
  return `## 5. Cross-region delivery over the direct one-way WAN delay (the physical floor; the peers route through their shared Redis in ${r.settings.homeRegion})

${table(
  [
    'path',
    'direct one-way ms',
    'peers route (ms)',
    'goal p50 ms (1.1 x direct + 3)',
    ...SYSTEMS.flatMap((n) => [`${n} p50 / direct`, `${n} p99 / direct`]),
    'ours p50 above direct, ms',
  ],
  r.scenarios.wanOverhead.map((w) => [
    w.path,
    String(w.wanMs),
    `${w.route} (${w.viaHomeMs})`,
    fmt(w.goalP50Ms),
    ...SYSTEMS.flatMap((n) => [fmt(w.ratioP50[n]), fmt(w.ratioP99[n])]),
    fmt(w.addedP50Ms.ours),
  ]),
)}`;
}

function saturationSection(r: BenchResult): string {
  const rows = r.scenarios.saturation;
  const o = r.settings.options.saturation;
  const detail = rows.flatMap((row) =>
    SYSTEMS.map(
      (n) =>
        `- ${n}: ${row.steps[n].map((st) => `${st.rate}/s p99 ${fmt(st.p99)} ms${st.delivered < 0.99 ? ` (${fmt(st.delivered * 100)}% delivered)` : ''}`).join(', ')}`,
    ),
  );
  return `## 6. Saturation: highest publish rate into a room of ${o.roomSize} on one node with p99 under ${o.p99LimitMs} ms (${o.region}; steps of ${o.stepMs / 1000} s, open loop)

${table(
  ['region', 'room members', ...heads('publishes/s held'), 'ours vs best peer', ...heads('deliveries/s')],
  rows.map((row) => [
    row.region,
    String(row.roomSize),
    ...cells(row.heldPerSecond),
    versusBestPeer(medians(row.heldPerSecond), false),
    ...cells(row.deliveriesPerSecond),
  ]),
)}

Steps of the last repetition (offered rate, p99 of publish-to-receipt):

${detail.join('\n')}`;
}

function hostileSection(r: BenchResult): string {
  const o = r.settings.options.hostile;
  const h = o.hostile;
  return `## 7. A hostile neighbour: well-behaved publish acks on one node (${o.region}), quiet and while a hostile client on the same node sends ${h.publishesPerSecond} publishes/s of ${fmt(h.payloadBytes / 1024)} KiB \`[{},{},...]\`, ${h.joinsPerSecond} rejoins/s with \`since\` and ${h.historyPerSecond} history pages/s (ms; ${o.calmClients} well-behaved clients at ${o.calmRatePerClient}/s each, ${o.quietMs / 1000} s per phase)

${table(
  [
    'system',
    'quiet p50',
    'quiet p99',
    'hostile p50',
    'hostile p99',
    'p99 hostile / quiet',
    'failed calm publishes',
    'hostile requests answered',
  ],
  r.scenarios.hostile.flatMap((row) =>
    SYSTEMS.map((n) => [
      n,
      s(row.quietP50[n]),
      s(row.quietP99[n]),
      s(row.hostileP50[n]),
      s(row.hostileP99[n]),
      s(row.p99Ratio[n]),
      String(row.calmFailures[n]),
      Object.entries(row.hostileAnswers[n])
        .map(([code, count]) => `${code} ${count}`)
        .join(', '),
    ]),
  ),
)}`;
}

function presenceSection(r: BenchResult): string {
  const o = r.settings.options.presence;
  return `## 8. Presence join cost: join ack in a room of ${fmt(o.members)} members, each its own user (ms; ${o.joins} sequential joins; the peers have no presence)

${table(
  [
    'system',
    'empty room p50',
    `room of ${fmt(o.members)} p50`,
    `room of ${fmt(o.members)} p99`,
    'presence events per join',
  ],
  r.scenarios.presence.flatMap((row) =>
    SYSTEMS.map((n: PlatformName) => [
      n,
      s(row.emptyRoomP50[n]),
      s(row.fullRoomP50[n]),
      s(row.fullRoomP99[n]),
      fmt(row.eventsPerJoin[n]),
    ]),
  ),
)}`;
}

function footprintSection(r: BenchResult): string {
  const f = r.scenarios.footprint[0];
  if (!f) return '## 9. Footprint\n\nNot run.';
  const o = r.settings.options.footprint;
  const families = (fams: FootprintReport['redis'][number]['families']) =>
    fams
      .slice(0, 5)
      .map(
        (k) =>
          `${k.family} ${fmt(k.keys)} keys ${mib(k.bytes)} MiB` +
          (k.streamEntries !== undefined
            ? ` (${fmt(k.streamEntries)} entries, longest ${fmt(k.longestStream ?? 0)})`
            : ''),
      )
      .join('; ');
  return `## 9. Footprint of a steady stream (ours): ${fmt(f.envelopes)} envelopes accepted (${Object.entries(
    f.accepted,
  )
    .map(([region, n]) => `${region} ${fmt(n)}`)
    .join(
      ', ',
    )}; ${f.refused} refused) in ${fmt(f.publishSeconds)} s, ${o.rooms} rooms per region, ${o.dataBytes}-byte data; read ${f.windowsPassed ? `after the ${f.windowS} s idempotency and dedup windows had passed` : 'right after (quick: windows not waited for)'}

${table(
  [
    'Redis',
    'used_memory before MiB',
    'after MiB',
    'growth per 1,000 envelopes, bytes',
    'beyond the recent buffers, bytes',
    'largest key families (streams: entries)',
  ],
  f.redis.map((x) => [
    x.redis,
    mib(x.usedMemoryBefore),
    mib(x.usedMemoryAfter),
    fmt(x.growthPer1000),
    fmt(x.growthBeyondRecentPer1000),
    families(x.families),
  ]),
)}

Node heap growth over the run (after a full GC, sum over the region's nodes): ${Object.entries(
    f.heapGrowthMiB,
  )
    .map(([region, m]) => `${region} ${fmt(m)} MiB`)
    .join(', ')}. Postgres rows for the run's rooms: ${
    Object.entries(f.postgresRows)
      .map(([origin, n]) => `${origin} ${fmt(n)}`)
      .join(', ') || 'none'
  } (${f.rowsMatchAccepted ? 'equal to' : 'NOT equal to'} the ${fmt(f.envelopes)} accepted).`;
}

function clusterSection(r: BenchResult): string {
  const o = r.settings.options;
  return `## 10. Our region on one Redis server and on a Redis Cluster (two nodes, no bus; cluster: 3 masters and 3 replicas on this machine, sharded Socket.IO adapter; latency in ms, ${o.cluster.count} publishes at ${o.cluster.ratePerSecond}/s; fan-out into a room of 100)

${table(
  [
    'regional Redis',
    'same node p50',
    'same node p99',
    'across nodes p50',
    'across nodes p99',
    'fan-out deliveries/s',
  ],
  r.scenarios.cluster.map((c) => [
    c.kind,
    s(c.sameNodeP50),
    s(c.sameNodeP99),
    s(c.acrossNodesP50),
    s(c.acrossNodesP99),
    s(c.fanoutDeliveriesPerSecond),
  ]),
)}

On one 2-core machine the cluster's six processes share the cores with everything else: this shows what the cluster costs (slot routing, sharded pub/sub, more processes), not the capacity it adds on separate machines.`;
}

/** The run as markdown: a header naming machine and settings, then one table per scenario. */
export function renderMarkdown(r: BenchResult): string {
  return [
    header(r),
    latencySection(r),
    fanoutSection(r),
    memorySection(r),
    handshakeSection(r),
    wanSection(r),
    saturationSection(r),
    hostileSection(r),
    presenceSection(r),
    footprintSection(r),
    clusterSection(r),
    renderVerdict(r),
  ].join('\n\n');
}

function lostNote(latency: LatencyPath[]): string {
  const lost = latency.flatMap((p) =>
    SYSTEMS.filter((n) => p.figures[n].lost > 0).map((n) => `${p.path} (${n}): ${p.figures[n].lost}`),
  );
  return lost.length ? `\nEnvelopes not received within 5 s of the last publish: ${lost.join('; ')}.\n` : '';
}
