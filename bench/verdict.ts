import { SYSTEMS, type PlatformName } from './platforms';
import type { BenchResult } from './result';
import type { Compared } from './scenarios/context';
import { fmt } from './stats';

/** Within this fraction of each other, two medians are called even: repetitions spread more than that. */
const EVEN = 0.05;
const PEERS = SYSTEMS.filter((n): n is Exclude<PlatformName, 'ours'> => n !== 'ours');

interface Comparison {
  what: string;
  figures: Compared<number>;
  unit: string;
  lowerIsBetter: boolean;
}

const medianOf = (c: Record<PlatformName, { median: number }>): Compared<number> =>
  Object.fromEntries(SYSTEMS.map((n) => [n, c[n].median])) as Compared<number>;

function comparisons(r: BenchResult): Comparison[] {
  const { latency, fanout, memory, saturation } = r.scenarios;
  return [
    ...latency
      .filter((p) => SYSTEMS.every((n) => !p.figures[n].refused))
      .flatMap((p) =>
        (['p50', 'p99'] as const).map((q) => ({
          what: `latency ${p.path} ${q}`,
          figures: Object.fromEntries(SYSTEMS.map((n) => [n, p.figures[n][q].median])) as Compared<number>,
          unit: ' ms',
          lowerIsBetter: true,
        })),
      ),
    ...fanout.map((f) => ({
      what: `fan-out ${f.region}, room of ${f.roomSize}`,
      figures: medianOf(f.deliveriesPerSecond),
      unit: ' deliveries/s',
      lowerIsBetter: false,
    })),
    ...saturation.map((x) => ({
      what: `saturation ${x.region}, room of ${x.roomSize}`,
      figures: medianOf(x.heldPerSecond),
      unit: ' publishes/s',
      lowerIsBetter: false,
    })),
    ...memory.map((m) => ({
      what: `heap at ${fmt(m.connections)} idle connections`,
      figures: medianOf(m.heapKiBPerConnection),
      unit: ' KiB per connection',
      lowerIsBetter: true,
    })),
  ];
}

/** > 1 when ours is better than `peer`. */
function advantage(c: Comparison, peer: PlatformName): number {
  return c.lowerIsBetter ? c.figures[peer] / c.figures.ours : c.figures.ours / c.figures[peer];
}

function sentence(c: Comparison): string {
  const versus = PEERS.map((peer) => {
    const a = advantage(c, peer);
    const how =
      Math.abs(a - 1) <= EVEN
        ? 'even'
        : a > 1
          ? `ours ${fmt(a)}x ${c.lowerIsBetter ? 'lower' : 'higher'}`
          : `${peer} ${fmt(1 / a)}x ${c.lowerIsBetter ? 'lower' : 'higher'}`;
    return `${peer} ${fmt(c.figures[peer])}${c.unit} (${how})`;
  });
  return `${c.what}: ours ${fmt(c.figures.ours)}${c.unit}; ${versus.join(', ')}`;
}

function goals(r: BenchResult): string[] {
  const lines: string[] = [];
  const { memory, handshake, hostile, saturation, wanOverhead } = r.scenarios;
  const mark = (ok: boolean) => (ok ? 'met' : 'not met');
  const last = memory.at(-1);
  if (last) {
    const heap = last.heapKiBPerConnection.ours.median;
    lines.push(
      `heap per idle connection at ${fmt(last.connections)}: ${fmt(heap)} KiB (goal at most 8: ${mark(heap <= 8)})`,
    );
  }
  for (const h of handshake) {
    const added = h.edgeAddedP50Ms.median;
    lines.push(
      `edge added to a handshake in ${h.region}: ${fmt(added)} ms p50 with the region balancer, ${fmt(h.edgeHopP50Ms.median)} ms of it the edge's own hop (goal under 2: ${mark(added < 2)})`,
    );
  }
  for (const x of hostile) {
    const ratio = x.p99Ratio.ours.median;
    lines.push(
      `hostile neighbour, ours p99 under hostile / quiet: ${fmt(ratio)} (goal at most 2: ${mark(ratio <= 2)})`,
    );
  }
  for (const x of saturation) {
    const ratio = x.heldPerSecond.ours.median / x.heldPerSecond.seeds.median;
    lines.push(`saturation, ours / seeds: ${fmt(ratio)}x (goal at least 1.5: ${mark(ratio >= 1.5)})`);
  }
  for (const w of wanOverhead) {
    const p50 = w.ratioP50.ours * w.wanMs;
    lines.push(
      `${w.path} p50 ${fmt(p50)} ms against the direct ${w.wanMs} ms (goal at most ${fmt(w.goalP50Ms)}: ${mark(p50 <= w.goalP50Ms)})`,
    );
  }
  return lines;
}

/** The run's comparisons in plain words: where ours leads both peers, where a peer wins or ties, goals. */
export function renderVerdict(r: BenchResult): string {
  const all = comparisons(r).filter((c) => SYSTEMS.every((n) => c.figures[n] > 0));
  const ahead = all.filter((c) => PEERS.every((peer) => advantage(c, peer) > 1 + EVEN));
  const rest = all.filter((c) => !ahead.includes(c));
  const list = (items: string[]) => (items.length ? items.map((line) => `- ${line}`).join('\n') : '- none');
  return `## In plain words

Where ours is ahead of both peers:

${list(ahead.map(sentence))}

Where a peer is ahead or even (within ${EVEN * 100}%):

${list(rest.map(sentence))}

Against the goals of the performance issue:

${list(goals(r))}
`;
}
