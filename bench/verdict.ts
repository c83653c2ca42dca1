import type { BenchResult } from './report';
import { fmt } from './stats';

/** Within this fraction of each other, two medians are called even: repetitions spread more than that. */
const EVEN = 0.05;

interface Comparison {
  what: string;
  ours: number;
  baseline: number;
  unit: string;
  lowerIsBetter: boolean;
}

function comparisons(r: BenchResult): Comparison[] {
  const { latency, fanout, memory, handshake } = r.scenarios;
  return [
    ...latency.flatMap((p) =>
      (['p50', 'p99'] as const).map((q) => ({
        what: `latency ${p.path} ${q}`,
        ours: p.figures.ours[q].median,
        baseline: p.figures.baseline[q].median,
        unit: ' ms',
        lowerIsBetter: true,
      })),
    ),
    ...fanout.map((f) => ({
      what: `fan-out ${f.region}, room of ${f.roomSize}`,
      ours: f.deliveriesPerSecond.ours.median,
      baseline: f.deliveriesPerSecond.baseline.median,
      unit: ' deliveries/s',
      lowerIsBetter: false,
    })),
    ...memory.map((m) => ({
      what: `memory at ${fmt(m.connections)} idle connections`,
      ours: m.rssKiBPerConnection.ours.median,
      baseline: m.rssKiBPerConnection.baseline.median,
      unit: ' KiB RSS per connection',
      lowerIsBetter: true,
    })),
    ...handshake.map((h) => ({
      what: `handshake in ${h.region}, ours through the edge vs baseline straight to its node`,
      ours: h.p50['ours: edge'].median,
      baseline: h.p50['baseline: node'].median,
      unit: ' ms',
      lowerIsBetter: true,
    })),
  ];
}

function sentence(c: Comparison): string {
  const better = c.lowerIsBetter ? c.baseline / c.ours : c.ours / c.baseline;
  const verdict =
    Math.abs(better - 1) <= EVEN
      ? 'even'
      : better > 1
        ? `ours ${fmt(better)}x ${c.lowerIsBetter ? 'lower' : 'higher'}`
        : `baseline ${fmt(1 / better)}x ${c.lowerIsBetter ? 'lower' : 'higher'}`;
  return `${c.what}: ours ${fmt(c.ours)}${c.unit}, baseline ${fmt(c.baseline)}${c.unit} (${verdict})`;
}

/** The run's comparisons in plain words, split into where we lead and where the baseline wins or ties. */
export function renderVerdict(r: BenchResult): string {
  const all = comparisons(r).filter((c) => c.ours > 0 && c.baseline > 0);
  const ahead = all.filter((c) => (c.lowerIsBetter ? c.baseline / c.ours : c.ours / c.baseline) > 1 + EVEN);
  const rest = all.filter((c) => !ahead.includes(c));
  const list = (items: Comparison[]) =>
    items.length ? items.map((c) => `- ${sentence(c)}`).join('\n') : '- none';
  const edge = r.scenarios.handshake.map((h) => `${h.region} ${fmt(h.edgeAddedP50Ms.median)} ms`).join(', ');
  const wan = r.scenarios.wanOverhead
    .map(
      (w) =>
        `${w.path} (${w.route}, ${w.wanMs} ms one way): ours ${fmt(w.ratioP50.ours)}x, baseline ${fmt(w.ratioP50.baseline)}x`,
    )
    .join('; ');
  return `## In plain words

Where ours is ahead:

${list(ahead)}

Where the baseline is ahead or even (within ${EVEN * 100}%):

${list(rest)}

The edge adds ${edge || 'n/a'} to a handshake (p50, through workerd and the region balancer, against straight to a node).
Cross-region p50 over the one-way WAN delay: ${wan || 'n/a'}.
`;
}
