import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { keys } from '../keyspace';
import { createLogger } from '../log';
import { RegionMetrics } from '../metrics';
import { RedisPublishLog } from '../publish';
import { CONFORMANCE_RULES, envelopeFor } from '../publish/publish-log-conformance';
import { ACK_HOLD_MS, OutboxReader, RegionalOutbox } from './outbox';

let server: LocalRedis;
let redis: Redis;
let reader: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  reader = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  reader?.disconnect();
  await server?.stop();
});
beforeEach(async () => {
  await redis.flushall();
});

const signal = new AbortController().signal;

async function appendSome(n: number) {
  const log = new RedisPublishLog(redis, CONFORMANCE_RULES, {
    log: createLogger('silent', { region: 'eu-west', node: 'test' }),
    metrics: new RegionMetrics({ region: 'eu-west', node: 'test' }),
    holdMaxBytes: 1 << 20,
  });
  const envelopes = Array.from({ length: n }, () => envelopeFor());
  for (const envelope of envelopes) await log.accept(envelope);
  return envelopes;
}

describe('RegionalOutbox', () => {
  it('hands entries to a group once, keeps them pending until acked, and lets a peer claim them', async () => {
    const outbox = new RegionalOutbox(redis, ['history']);
    await outbox.ensureGroups();
    const envelopes = await appendSome(3);
    const a = outbox.reader('history', 'a', reader);
    const read = await a.readNew({ count: 10, blockMs: 0, signal });
    // Each envelope's JSON as appended, with its fields besides data (which is not parsed).
    expect(read.map((e) => e.value?.json)).toEqual(envelopes.map((e) => JSON.stringify(e)));
    expect(read.map((e) => e.value?.head)).toEqual(envelopes.map(({ data: _data, ...head }) => head));
    expect(await a.readNew({ count: 10, blockMs: 0, signal })).toEqual([]);
    await a.ack([read[0]!.id]);
    expect((await a.readPending(10)).map((e) => e.id)).toEqual(read.slice(1).map((e) => e.id));
    const b = outbox.reader('history', 'b');
    expect((await b.claim(0, 10)).map((e) => e.id)).toEqual(read.slice(1).map((e) => e.id));
    expect(await a.readPending(10)).toEqual([]);
    expect(await outbox.depth('history')).toBe(2);
  });

  it('answers an aborted waiting read at once with nothing', async () => {
    const outbox = new RegionalOutbox(redis, ['history']);
    await outbox.ensureGroups();
    const stop = new AbortController();
    const read = outbox
      .reader('history', 'a', reader)
      .readNew({ count: 1, blockMs: 5_000, signal: stop.signal });
    stop.abort();
    expect(await read).toEqual([]);
  });

  it('trims below what every configured group acknowledged, and only those', async () => {
    // A group of another configuration (a peer no longer configured) exists but does not hold it back.
    await new RegionalOutbox(redis, ['history', 'forward:gone']).ensureGroups();
    const outbox = new RegionalOutbox(redis, ['history', 'forward:us-east']);
    await outbox.ensureGroups();
    await appendSome(4);
    const history = outbox.reader('history', 'h');
    const forward = outbox.reader('forward:us-east', 'f');
    const h = await history.readNew({ count: 10, blockMs: 0, signal });
    await history.ack(h.map((e) => e.id));
    const f = await forward.readNew({ count: 2, blockMs: 0, signal });
    await forward.ack(f.map((e) => e.id));
    expect(await outbox.trimAcknowledged()).toBe(2);
    expect(await redis.xlen(keys.outbox())).toBe(2);
    const rest = await forward.readNew({ count: 10, blockMs: 0, signal });
    await forward.ack(rest.map((e) => e.id));
    expect(await outbox.trimAcknowledged()).toBe(2);
    expect(await outbox.length()).toBe(0);
  });

  it("keeps every stream (a Redis Cluster's publish groups) apart: groups, reads, depth and trims per stream", async () => {
    const streams = [keys.groupOutbox(0), keys.groupOutbox(1)];
    const outbox = new RegionalOutbox(redis, ['history', 'forward:us-east'], streams);
    await outbox.ensureGroups();
    for (const [i, stream] of streams.entries())
      for (let n = 0; n <= i; n++) await redis.xadd(stream, '*', 'e', JSON.stringify(envelopeFor()));
    expect(await outbox.depth('history')).toBe(3);
    // Both groups read and ack stream 1; nobody reads stream 0.
    const history = outbox.reader('history', 'h', reader, streams[1]);
    const read = await history.readNew({ count: 10, blockMs: 0, signal });
    expect(read).toHaveLength(2);
    await history.ack(read.map((e) => e.id));
    const forward = outbox.reader('forward:us-east', 'f', reader, streams[1]);
    await forward.ack((await forward.readNew({ count: 10, blockMs: 0, signal })).map((e) => e.id));
    expect(await outbox.depth('history')).toBe(1);
    // Stream 1 is acknowledged by both groups and trimmed; stream 0 waits for both.
    expect(await outbox.trimAcknowledged()).toBe(2);
    expect(await redis.xlen(streams[0]!)).toBe(1);
    expect(await outbox.length()).toBe(1);
  });

  describe('with acknowledgements behind reads', () => {
    const failures: Error[] = [];
    const pendingIds = async () =>
      ((await redis.xpending(keys.outbox(), 'forward:us-east', '-', '+', 10)) as [string][]).map(
        ([id]) => id,
      );
    const forwarder = () =>
      new OutboxReader(redis, reader, 'forward:us-east', 'f', keys.outbox(), {
        acksBehindReads: { onFailure: (err) => failures.push(err) },
      });
    beforeEach(async () => {
      failures.length = 0;
      await new RegionalOutbox(redis, ['forward:us-east']).ensureGroups();
    });

    it('holds an acknowledgement and sends it with the next read, run as that read answers', async () => {
      await appendSome(3);
      const f = forwarder();
      const [first] = await f.readNew({ count: 1, blockMs: 0, signal });
      await f.ack([first!.id]);
      expect(await pendingIds()).toEqual([first!.id]);
      const second = await f.readNew({ count: 1, blockMs: 0, signal });
      expect(await pendingIds()).toEqual([second[0]!.id]);
      expect(failures).toEqual([]);
    });

    it('sends what no read took within the hold, and at flush what waits behind a read', async () => {
      await appendSome(2);
      const f = forwarder();
      const [first, second] = await f.readNew({ count: 2, blockMs: 0, signal });
      await f.ack([first!.id]);
      await new Promise((r) => setTimeout(r, ACK_HOLD_MS + 300));
      expect(await pendingIds()).toEqual([second!.id]);
      // Behind a read that waits at the server, the acknowledgement would wait with it: flush sends it.
      await f.ack([second!.id]);
      const stop = new AbortController();
      const waiting = f.readNew({ count: 1, blockMs: 5_000, signal: stop.signal });
      await new Promise((r) => setTimeout(r, 100));
      expect(await pendingIds()).toEqual([second!.id]);
      await f.flush();
      expect(await pendingIds()).toEqual([]);
      stop.abort();
      expect(await waiting).toEqual([]);
      expect(failures).toEqual([]);
    });
  });
});
