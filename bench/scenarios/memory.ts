import { readFile } from 'node:fs/promises';
import type { BenchNode, PlatformName } from '../platforms';
import { spread } from '../stats';
import type { Compared, ScenarioContext } from './context';
import { perSystem, platforms } from './context';
import { setTimeout as sleep } from 'node:timers/promises';

/** Scenario 3: what one more idle connection costs a node, at a given number of connections. */
export interface MemoryRow {
  connections: number;
  /** Resident set growth per connection over the empty node, in KiB. */
  rssKiBPerConnection: Compared;
  /** V8 heap-in-use growth per connection, in KiB. */
  heapKiBPerConnection: Compared;
  /** The node's resident set at this count, in MiB. */
  rssMiB: Compared;
}

interface Reading {
  rss: number;
  heap: number;
}

/**
 * Each repetition starts a fresh node per platform in the memory region, reads its memory with no
 * client, then opens idle connections (one user each, connected, no room) from the load process up to
 * each count and reads again. Every reading follows a full GC (SIGUSR2, see gc-on-signal.ts) and a
 * settle pause; RSS comes from /proc/PID/status, the heap from the node's /metrics.
 */
export async function measureMemory(ctx: ScenarioContext): Promise<MemoryRow[]> {
  const { memory } = ctx.options;
  const { repetitions } = memory;
  const counts = memory.connections;
  const runs = new Map<string, { rss: number[]; heap: number[]; total: number[] }>();
  for (let rep = 1; rep <= repetitions; rep++) {
    for (const platform of platforms(ctx.world)) {
      const node = await platform.startNode(memory.region, `${platform.name}-memory-${rep}`);
      const group = `idle-${platform.name}-${rep}`;
      try {
        const empty = await settledReading(node, memory.settleMs);
        let open = 0;
        for (const count of counts) {
          await ctx.load.run({
            kind: 'open',
            group,
            url: node.url,
            count: count - open,
            users: 'each',
            concurrency: 64,
          });
          open = count;
          const r = await settledReading(node, memory.settleMs);
          const entry = runs.get(`${platform.name}/${count}`) ?? { rss: [], heap: [], total: [] };
          entry.rss.push((r.rss - empty.rss) / count / 1024);
          entry.heap.push((r.heap - empty.heap) / count / 1024);
          entry.total.push(r.rss / 1024 / 1024);
          runs.set(`${platform.name}/${count}`, entry);
          ctx.say(
            `memory ${rep}/${repetitions} ${platform.name}: ${count} connections, ${((r.rss - empty.rss) / count / 1024).toFixed(1)} KiB RSS each`,
          );
        }
      } finally {
        await ctx.load.run({ kind: 'close', group });
        await node.stop();
      }
    }
  }
  return counts.map((connections) => {
    const of = (name: PlatformName) => runs.get(`${name}/${connections}`)!;
    return {
      connections,
      rssKiBPerConnection: perSystem((n) => spread(of(n).rss)),
      heapKiBPerConnection: perSystem((n) => spread(of(n).heap)),
      rssMiB: perSystem((n) => spread(of(n).total)),
    };
  });
}

/** The node's V8 heap in use after a full GC, in bytes. */
export async function heapAfterGc(node: BenchNode, settleMs: number): Promise<number> {
  return (await settledReading(node, settleMs)).heap;
}

async function settledReading(node: BenchNode, settleMs: number): Promise<Reading> {
  await sleep(settleMs);
  process.kill(node.pid, 'SIGUSR2');
  await sleep(Math.max(300, settleMs / 2));
  const status = await readFile(`/proc/${node.pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  const metrics = await (await fetch(`${node.url}/metrics`)).text();
  const heap = Number(/^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)/m.exec(metrics)?.[1]);
  if (!Number.isFinite(rssKb) || !Number.isFinite(heap)) throw new Error(`no memory reading from ${node.id}`);
  return { rss: rssKb * 1024, heap };
}
