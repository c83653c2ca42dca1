import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { FailureStreak } from '../failure-streak';
import type { GroupEntry, GroupStream } from './group-stream';
import { MemoryStream } from './memory-stream';
import { StreamWorker, type BatchPolicy, type StreamWorkerOptions, type WorkerLease } from './worker';
import { until } from '../../tests/support/until';

const workers: StreamWorker<number>[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

/** A counter and a log that tests can read. */
function failureStreak(component: string) {
  const registry = new Registry();
  const counter = new Counter({
    name: 'failures_total',
    help: 'x',
    labelNames: ['component'] as const,
    registers: [registry],
  });
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const count = async () =>
    (await counter.get()).values.find((v) => v.labels.component === component)?.value ?? 0;
  const warnings = () => lines.filter((l) => l.level === 40).length;
  return { streak: new FailureStreak(component, counter, log), count, warnings };
}

function startWorker(
  stream: GroupStream<number>,
  policy: BatchPolicy<number>,
  extra: Partial<StreamWorkerOptions<number>> = {},
) {
  const failures = failureStreak('test');
  const worker = new StreamWorker<number>({
    stream,
    policy,
    batchSize: 10,
    blockMs: 50,
    claimIdleMs: 100,
    ack: 'await',
    retry: { minMs: 10, maxMs: 40 },
    callDeadlineMs: 200,
    failures: failures.streak,
    ...extra,
  });
  workers.push(worker);
  worker.start();
  return { worker, failures };
}

/** Records every value handled, in order. */
function recorder(): BatchPolicy<number> & { seen: number[] } {
  const seen: number[] = [];
  return {
    seen,
    handle: async (entries: GroupEntry<number>[]) => void seen.push(...entries.map((e) => e.value!)),
  };
}

describe('StreamWorker', () => {
  it('handles new entries in order and acknowledges them after the batch', async () => {
    const stream = new MemoryStream<number>();
    const policy = recorder();
    startWorker(stream.as('a'), policy);
    for (let n = 0; n < 25; n++) stream.append(n);
    await until(() => policy.seen.length === 25, 'every entry handled');
    expect(policy.seen).toEqual(Array.from({ length: 25 }, (_, n) => n));
    await until(() => stream.pendingIds().length === 0, 'every entry acknowledged');
  });

  it('with gatherMs, waits after a short batch, so entries appended meanwhile come as one batch', async () => {
    const stream = new MemoryStream<number>();
    const batches: number[][] = [];
    const policy: BatchPolicy<number> = {
      handle: async (entries) => void batches.push(entries.map((e) => e.value!)),
    };
    startWorker(stream.as('a'), policy, { gatherMs: 1_000 });
    stream.append(0);
    await until(() => batches.length === 1, 'the first entry handled');
    // Without the wait, each of these would be read (and handled) on its own.
    for (let n = 1; n <= 3; n++) {
      stream.append(n);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    await until(() => batches.flat().length === 4, 'every entry handled');
    expect(batches).toEqual([[0], [1, 2, 3]]);
  });

  it('retries a failing batch before anything newer, counting every failure and warning once per streak', async () => {
    const stream = new MemoryStream<number>();
    const seen: number[] = [];
    let failuresLeft = 3;
    const policy: BatchPolicy<number> = {
      handle: async (entries) => {
        if (failuresLeft-- > 0) throw new Error('downstream unavailable');
        seen.push(...entries.map((e) => e.value!));
      },
    };
    stream.append(1);
    stream.append(2);
    const { failures } = startWorker(stream.as('a'), policy);
    await until(() => seen.length === 2, 'the batch handled after the failures');
    stream.append(3);
    await until(() => seen.length === 3, 'the next entry');
    expect(seen).toEqual([1, 2, 3]);
    expect(await failures.count()).toBe(3);
    expect(failures.warnings()).toBe(1);
  });

  it('takes over entries a dead consumer left pending once they are idle, oldest first', async () => {
    const stream = new MemoryStream<number>();
    for (let n = 0; n < 3; n++) stream.append(n);
    // Consumer "dead" reads them and never acknowledges.
    await stream.as('dead').readNew({ count: 10, blockMs: 0, signal: new AbortController().signal });
    stream.append(3);
    const policy = recorder();
    startWorker(stream.as('peer'), policy, { claimIdleMs: 100 });
    await until(() => policy.seen.length === 4, 'the dead consumer entries and the new one');
    expect(policy.seen.filter((n) => n < 3)).toEqual([0, 1, 2]);
    expect(policy.seen.slice().sort()).toEqual([0, 1, 2, 3]);
    await until(() => stream.pendingIds().length === 0, 'all acknowledged');
  });

  it('as the only consumer, takes over everything pending at once, before reading new entries', async () => {
    const stream = new MemoryStream<number>();
    for (let n = 0; n < 3; n++) stream.append(n);
    await stream.as('previous').readNew({ count: 10, blockMs: 0, signal: new AbortController().signal });
    stream.append(3);
    const policy = recorder();
    startWorker(stream.as('next'), policy, { exclusive: true, claimIdleMs: 60_000 });
    await until(() => policy.seen.length === 4, 'pending and new entries');
    expect(policy.seen).toEqual([0, 1, 2, 3]);
  });

  it('gives up on a call that never answers, counts it, and still stops at once', async () => {
    const memory = new MemoryStream<number>();
    const hung: GroupStream<number> = { ...memory.as('a'), readPending: () => new Promise(() => undefined) };
    const { worker, failures } = startWorker(hung, recorder(), { callDeadlineMs: 50 });
    await until(async () => (await failures.count()) >= 2, 'the hung call counted');
    const started = Date.now();
    await worker.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('handles nothing without the lease, and takes over what the previous holder left once it has it', async () => {
    const stream = new MemoryStream<number>();
    for (let n = 0; n < 3; n++) stream.append(n);
    await stream.as('old-holder').readNew({ count: 2, blockMs: 0, signal: new AbortController().signal });
    let free = false;
    const lease: WorkerLease = { ttlMs: 300, acquire: async () => free, release: async () => undefined };
    const held: boolean[] = [];
    const policy = recorder();
    startWorker(stream.as('successor'), policy, { lease, claimIdleMs: 60_000, onLease: (h) => held.push(h) });
    await new Promise((r) => setTimeout(r, 100));
    expect(policy.seen).toEqual([]);
    free = true;
    await until(() => policy.seen.length === 3, 'the entries after the lease was gained');
    expect(policy.seen).toEqual([0, 1, 2]);
    expect(held).toEqual([true]);
  });

  it('pipelines batches but acknowledges strictly in order, and nothing after a failed batch until it is retried', async () => {
    const memory = new MemoryStream<number>();
    const acked: number[] = [];
    const base = memory.as('a');
    const stream: GroupStream<number> = {
      ...base,
      ack: async (ids) => {
        acked.push(...ids.map((id) => Number(id.split('-')[0]) - 1));
        await base.ack(ids);
      },
    };
    const handled: number[] = [];
    let failOnce = true;
    let active = 0;
    let mostActive = 0;
    const policy: BatchPolicy<number> = {
      handle: async (entries) => {
        const n = entries[0]!.value!;
        mostActive = Math.max(mostActive, ++active);
        // Later batches often finish first: their acks must still wait.
        await new Promise((r) => setTimeout(r, (3 - (n % 3)) * 15));
        active--;
        if (n === 5 && failOnce) {
          failOnce = false;
          throw new Error('append failed');
        }
        handled.push(n);
      },
    };
    const { failures } = startWorker(stream, policy, { batchSize: 1, inFlight: 4 });
    for (let n = 0; n < 12; n++) memory.append(n);
    await until(() => acked.length === 12, 'every entry acknowledged');
    expect(acked).toEqual(Array.from({ length: 12 }, (_, n) => n));
    expect(handled.filter((n) => n === 5)).toHaveLength(1);
    expect(mostActive).toBeGreaterThan(1);
    expect(await failures.count()).toBe(1);
    expect(memory.pendingIds()).toEqual([]);
  });

  it('at stop, sends the acknowledgements its stream holds back before it releases the lease', async () => {
    const memory = new MemoryStream<number>();
    const base = memory.as('a');
    const events: string[] = [];
    let held: string[] = [];
    const stream: GroupStream<number> = {
      ...base,
      ack: async (ids) => void held.push(...ids),
      flush: async () => {
        events.push(`flush ${held.length}`);
        await base.ack(held);
        held = [];
      },
    };
    const lease: WorkerLease = {
      ttlMs: 3_000,
      acquire: async () => true,
      release: async () => void events.push('release'),
    };
    const policy = recorder();
    const { worker } = startWorker(stream, policy, { lease });
    for (let n = 0; n < 3; n++) memory.append(n);
    await until(() => policy.seen.length === 3, 'every entry handled');
    expect(memory.pendingIds()).toHaveLength(3);
    await worker.stop();
    expect(events).toEqual(['flush 3', 'release']);
    expect(memory.pendingIds()).toEqual([]);
  });
});
