import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEnvelope, envelopeText, newEnvelopeId, type Envelope, type EnvelopeText } from '../../shared';
import { FailureStreak } from '../failure-streak';
import { MemoryStream } from '../streams/memory-stream';
import type { StreamWorker } from '../streams/worker';
import type { OutboxRow } from './dead-letters';
import { historyWorker, type HistoryRows } from './writer';
import { until } from '../../tests/support/until';

const log = pino({ level: 'silent' });
const workers: StreamWorker<EnvelopeText>[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

function envelope(n: number, extra: Partial<Envelope> = {}): EnvelopeText {
  return envelopeText(
    encodeEnvelope({
      id: newEnvelopeId(),
      room: 'r',
      data: { n },
      user: 'u',
      origin: 'us-east',
      ts: Date.now(),
      ...extra,
    }),
  );
}

/** A store that records every committed row, and can be made unreachable. */
function memoryRows(): HistoryRows & { stored: OutboxRow[]; attempts: number; down: boolean } {
  const rows = {
    stored: [] as OutboxRow[],
    attempts: 0,
    down: false,
    async write(batch: readonly OutboxRow[]) {
      rows.attempts++;
      if (rows.down) throw new Error('primary unreachable');
      rows.stored.push(...batch);
    },
  };
  return rows;
}

function failureCounter() {
  const counter = new Counter({
    name: 'failures_total',
    help: 'x',
    labelNames: ['component'] as const,
    registers: [new Registry()],
  });
  const count = async () => (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
  return { streak: new FailureStreak('history-writer', counter, log), count };
}

/** A stream with `envelopes` appended, and a writer on it whose store is unreachable. */
function writingToUnreachableStore(envelopes: EnvelopeText[]) {
  const stream = new MemoryStream<EnvelopeText>();
  const rows = memoryRows();
  rows.down = true;
  const started = start(stream, rows);
  for (const e of envelopes) stream.append(e);
  return { stream, rows, ...started };
}

function start(stream: MemoryStream<EnvelopeText>, rows: HistoryRows, consumer = 'n1', claimIdleMs = 60_000) {
  const failures = failureCounter();
  const worker = historyWorker({
    stream: stream.as(consumer),
    rows,
    batchSize: 4,
    claimIdleMs,
    statementDeadlineMs: 1_000,
    failures: failures.streak,
    log,
  });
  workers.push(worker);
  worker.start();
  return { worker, failures };
}

describe('the history writer policy on the consumer-group worker', () => {
  it('writes every envelope in outbox order with its exact JSON; skips ephemeral and undecodable ones, acknowledging all', async () => {
    const stream = new MemoryStream<EnvelopeText>();
    const rows = memoryRows();
    start(stream, rows);
    const kept = [envelope(1), envelope(2), envelope(3), envelope(4), envelope(5)];
    const entries = [
      stream.append(kept[0]),
      stream.append(envelope(0, { ephemeral: true })),
      stream.append(kept[1]),
      stream.append(undefined), // written by a version this code does not know
      ...kept.slice(2).map((e) => stream.append(e)),
    ];
    await until(() => rows.stored.length === kept.length, 'every stored envelope written');
    expect(rows.stored.map((r) => r.json)).toEqual(kept.map((e) => e.json));
    expect(rows.stored.map((r) => r.id)).toEqual(kept.map((e) => e.head.id));
    expect(rows.stored[0]!.outboxEntry).toBe(entries[0]);
    await until(() => stream.pendingIds().length === 0, 'every entry acknowledged');
  });

  it('retries the same batch while the store is unreachable, acknowledging nothing, and then goes on in order', async () => {
    const first = [envelope(1), envelope(2), envelope(3)];
    const { stream, rows, failures } = writingToUnreachableStore(first);
    await until(() => rows.attempts >= 3, 'three attempts');
    expect(stream.pendingIds()).toHaveLength(3);
    expect(await failures.count()).toBeGreaterThanOrEqual(3);

    const later = [envelope(4), envelope(5), envelope(6), envelope(7), envelope(8)];
    for (const e of later) stream.append(e);
    rows.down = false;
    await until(() => rows.stored.length === 8, 'all written once the store answers');
    expect(rows.stored.map((r) => r.json)).toEqual([...first, ...later].map((e) => e.json));
    await until(() => stream.pendingIds().length === 0, 'every entry acknowledged');
  });

  it('stops while the store is unreachable with the batch still pending; a restart writes it first', async () => {
    const batch = [envelope(1), envelope(2)];
    const { stream, rows, worker } = writingToUnreachableStore(batch);
    await until(() => rows.attempts >= 1, 'an attempt');
    await worker.stop();
    expect(stream.pendingIds()).toHaveLength(2);

    rows.down = false;
    stream.append(envelope(3));
    start(stream, rows);
    await until(() => rows.stored.length === 3, 'the pending batch and the new entry written');
    expect(rows.stored.slice(0, 2).map((r) => r.json)).toEqual(batch.map((e) => e.json));
  });

  it("takes over a stopped node's pending entries once they are idle long enough", async () => {
    const stream = new MemoryStream<EnvelopeText>();
    const deadNode = stream.as('n0');
    const orphan = [envelope(1), envelope(2)];
    for (const e of orphan) stream.append(e);
    // n0 read them and died before writing them.
    await deadNode.readNew({ count: 10, blockMs: 0, signal: new AbortController().signal });
    const rows = memoryRows();
    start(stream, rows, 'n1', 200);
    await until(() => rows.stored.length === 2, 'the orphaned entries written by n1');
    expect(rows.stored.map((r) => r.json)).toEqual(orphan.map((e) => e.json));
    await until(() => stream.pendingIds().length === 0, 'acknowledged');
  });
});
