import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { newEnvelopeId, type Envelope } from '../../shared';
import { FailureStreak } from '../failure-streak';
import { MemoryBus } from './memory-bus';
import { BusMetrics } from './metrics';
import { ShardConsumer } from './shard-consumer';

const REGION = 'eu-west';
const ROOM = 'room:1';
const consumers: ShardConsumer[] = [];
afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.stop()));
});

function envelope(origin: string, n: number, id = newEnvelopeId()): Envelope {
  return { id, room: ROOM, data: { n }, user: 'u', origin, ts: Date.now() };
}

/** The delivery policy on a memory bus, with dedup marks in a Set and emits recorded. */
function startConsumer(bus: MemoryBus, nodeId: string, seen = new Set<string>(), acksWithMarks = false) {
  const registry = new Registry();
  const log = pino({ level: 'silent' });
  const counter = new Counter({
    name: 'errors_total',
    help: 'x',
    labelNames: ['component'] as const,
    registers: [registry],
  });
  const streak = (c: string) => new FailureStreak(c, counter, log);
  const emitted: Envelope[] = [];
  /** The JSON each emit was handed (undefined: an envelope to encode). */
  const emittedJson: (string | undefined)[] = [];
  const metrics = new BusMetrics(registry, [], async () => 0);
  const consumer = new ShardConsumer(bus.shardOf(ROOM), {
    region: REGION,
    nodeId,
    bus,
    markNew: async (ids, entries) => {
      const fresh = ids.map((id) => !seen.has(id) && Boolean(seen.add(id)));
      if (!acksWithMarks) return { fresh, acknowledged: [] };
      await bus.ack(bus.shardOf(ROOM), REGION, entries);
      return { fresh, acknowledged: entries };
    },
    delivery: {
      deliver: (e) => {
        emitted.push('json' in e ? e.envelope : e);
        emittedJson.push('json' in e ? e.json : undefined);
      },
    },
    metrics,
    log,
    failures: { consume: streak('consume'), ack: streak('ack'), housekeeping: streak('trim') },
    batchSize: 16,
    blockMs: 50,
    readAhead: 2,
    retryMs: 10,
    claimIdleMs: 60_000,
    trimIntervalMs: 60_000,
    standingIntervalMs: 60_000,
  });
  consumers.push(consumer);
  return { emitted, emittedJson, metrics, seen };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('delivering an inbound shard', () => {
  it('emits foreign envelopes once, in shard order, and never its own region’s', async () => {
    const bus = new MemoryBus(4);
    await bus.ensureGroup(bus.shardOf(ROOM), REGION, 'all');
    const { emitted, metrics } = startConsumer(bus, 'node-1');
    const first = envelope('us-east', 0);
    const sent = [first, envelope('us-east', 1), envelope(REGION, 2), first, envelope('ap-southeast', 3)];
    await bus.publish(sent);
    await until(() => emitted.length === 3, 'three emits');
    await new Promise((r) => setTimeout(r, 100)); // nothing else arrives
    expect(emitted.map((e) => (e.data as { n: number }).n)).toEqual([0, 1, 3]);
    const consumed = await metrics.consumed.get();
    const count = (result: string) => consumed.values.find((v) => v.labels.result === result)?.value;
    expect([count('delivered'), count('own'), count('duplicate')]).toEqual([3, 1, 1]);
  });

  it('takes over what a previous holder left pending, before anything newer, without emitting it twice', async () => {
    const bus = new MemoryBus(4);
    const shard = bus.shardOf(ROOM);
    await bus.ensureGroup(shard, REGION, 'all');
    const seen = new Set<string>();
    const batch = [0, 1, 2, 3].map((n) => envelope('us-east', n));
    await bus.publish(batch);
    // The previous holder read all four, emitted (marked) the first two, and died before its ack.
    await bus.readNew(shard, REGION, 'dead-node', { count: 10, blockMs: 0 });
    seen.add(batch[0]!.id).add(batch[1]!.id);
    await bus.publish([envelope('us-east', 4)]);
    const { emitted } = startConsumer(bus, 'successor', seen);
    await until(() => emitted.length === 3, 'the rest delivered');
    expect(emitted.map((e) => (e.data as { n: number }).n)).toEqual([2, 3, 4]);
    expect(await bus.readPending(shard, REGION, 'dead-node', 10)).toEqual([]);
  });

  it('acknowledges what the marks did not: every entry once, the marks’ not again after the emit', async () => {
    for (const acksWithMarks of [false, true]) {
      const bus = new MemoryBus(4);
      const shard = bus.shardOf(ROOM);
      await bus.ensureGroup(shard, REGION, 'all');
      const acked: string[] = [];
      const ack = bus.ack.bind(bus);
      bus.ack = async (s, group, ids) => {
        acked.push(...ids);
        await ack(s, group, ids);
      };
      const { emitted } = startConsumer(bus, 'node-1', new Set(), acksWithMarks);
      await bus.publish([envelope('us-east', 0), envelope(REGION, 1), envelope('us-east', 2)]);
      await until(() => emitted.length === 2 && acked.length === 3, 'both emitted and all acknowledged');
      await new Promise((r) => setTimeout(r, 50));
      expect(new Set(acked).size).toBe(3);
      expect(acked).toHaveLength(3);
      expect(await bus.readPending(shard, REGION, 'node-1', 10)).toEqual([]);
    }
  });

  it('hands delivery each envelope as the JSON it was appended as, never re-encoded', async () => {
    const bus = new MemoryBus(4);
    await bus.ensureGroup(bus.shardOf(ROOM), REGION, 'all');
    const { emitted, emittedJson } = startConsumer(bus, 'node-1');
    const sent = envelope('us-east', 0);
    // A spelling JSON.stringify would not write: decoding and encoding again would change it.
    const json = JSON.stringify(sent).replace('"data":{"n":0}', '"data":{"n" : 0.0}');
    const { id, room, user, origin, ts } = sent;
    await bus.publish([{ head: { id, room, user, origin, ts }, json }]);
    await until(() => emitted.length === 1, 'the emit');
    expect(emittedJson).toEqual([json]);
    expect(emitted[0]).toEqual(sent);
  });
});
