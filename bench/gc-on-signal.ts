/**
 * Preloaded into benchmark nodes only (with `--expose-gc`): SIGUSR2 runs a full garbage collection,
 * so the memory scenario reads a settled heap instead of whatever the last minor GC left. With
 * BENCH_HEAP_SNAPSHOT_DIR set, each collection also writes a heap snapshot there
 * (`<NODE_ID>-<n>.heapsnapshot`), for profiling what an idle connection holds (bench/heap-diff.ts).
 */
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

let snapshots = 0;
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const dir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
  if (dir) writeHeapSnapshot(join(dir, `${process.env.NODE_ID ?? process.pid}-${++snapshots}.heapsnapshot`));
});
