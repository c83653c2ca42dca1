/**
 * `node --import tsx bench/memory-probe.ts [COUNT ...]` (default 1000 5000 10000): heap per idle
 * connection on one of our nodes alone, without the bench's world: a node on a local Redis (no bus,
 * no Postgres), idle WebSocket connections of one user each opened from this process, and after each
 * count the node's heap in use after a full GC (bench/gc-on-signal.ts), the lowest of three
 * readings. Heap does not depend on the machine's load as timings do, so this is the quick check
 * while working on what a connection holds; with BENCH_HEAP_SNAPSHOT_DIR set, every reading also
 * writes a heap snapshot for bench/heap-diff.ts.
 */
import { join } from 'node:path';
import { startWorld } from '../harness/world/world';
import { signBenchToken } from './load/token';
import { WireSocket } from './load/wire';
import { BENCH_NODE_ENV, type BenchNode } from './platforms';
import { heapAfterGc } from './scenarios/memory';

const counts = process.argv.slice(2).map(Number);
if (counts.some((n) => !Number.isInteger(n) || n <= 0)) {
  console.error('usage: memory-probe.ts [COUNT ...] (positive, increasing)');
  process.exit(2);
}
if (counts.length === 0) counts.push(1_000, 5_000, 10_000);

const SETTLE_MS = 700;
const snapshots = process.env.BENCH_HEAP_SNAPSHOT_DIR;
const world = await startWorld({
  regions: [{ id: 'us-east', nodes: 0 }],
  bus: false,
  settings: { ...BENCH_NODE_ENV, ...(snapshots ? { BENCH_HEAP_SNAPSHOT_DIR: snapshots } : {}) },
  nodeArgs: ['--expose-gc', '--import', join(import.meta.dirname, 'gc-on-signal.ts')],
  nodeShutdown: 'kill',
});
const sockets: WireSocket[] = [];
try {
  const node = await world.startNode('us-east', 'memory-probe');
  const secret = new TextEncoder().encode(world.jwtSecret);
  const openUpTo = async (count: number) => {
    let next = sockets.length;
    const worker = async () => {
      while (next < count) {
        const user = `idle-${next++}`;
        sockets.push(await WireSocket.open(node.url, await signBenchToken(secret, user)));
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
  };
  // A few connections first, so that what the first one makes once (code, caches) is in the baseline.
  await openUpTo(50);
  for (const socket of sockets.splice(0)) socket.close();
  const empty = await lowestHeap(node);
  for (const count of counts) {
    await openUpTo(count);
    const heap = await lowestHeap(node);
    process.stdout.write(
      `${count} idle connections: ${((heap - empty) / count / 1024).toFixed(2)} KiB of heap each\n`,
    );
  }
} finally {
  for (const socket of sockets) socket.close();
  await world.stop();
}

async function lowestHeap(node: BenchNode): Promise<number> {
  let lowest = Infinity;
  for (let i = 0; i < 3; i++) lowest = Math.min(lowest, await heapAfterGc(node, SETTLE_MS));
  return lowest;
}
