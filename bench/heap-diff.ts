/**
 * `node --import tsx bench/heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [connections]`: what
 * grew between two V8 heap snapshots, by constructor (self sizes), largest first, and per connection
 * when their number is given. For profiling the memory scenario (see gc-on-signal.ts).
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

function sizesByName(path: string): Map<string, { count: number; bytes: number }> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const name =
      type === 'object' || type === 'closure' ? snap.strings[snap.nodes[i + nameAt]!]! : `(${type})`;
    const key = type === 'closure' ? `closure ${name}` : name;
    const entry = out.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snap.nodes[i + sizeAt]!;
    out.set(key, entry);
  }
  return out;
}

const [before, after, per] = process.argv.slice(2);
if (!before || !after) {
  console.error('usage: heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [connections]');
  process.exit(2);
}
const a = sizesByName(before);
const b = sizesByName(after);
const connections = Number(per ?? 1) || 1;
const rows = [...b].map(([name, x]) => {
  const y = a.get(name) ?? { count: 0, bytes: 0 };
  return { name, count: x.count - y.count, bytes: x.bytes - y.bytes };
});
rows.sort((p, q) => q.bytes - p.bytes);
let total = 0;
for (const r of rows) total += r.bytes;
console.log(`total growth ${(total / 1024 / connections).toFixed(2)} KiB per connection`);
for (const r of rows.slice(0, 40)) {
  console.log(
    `${(r.bytes / connections).toFixed(0).padStart(7)} B  ${(r.count / connections).toFixed(2).padStart(6)} objects  ${r.name}`,
  );
}
