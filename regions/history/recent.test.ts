import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRedis, type LocalRedis } from '../../infra/local/redis';
import { encodeEnvelope, newEnvelopeId, type Envelope, type EnvelopeId } from '../../shared';
import { keys } from '../keyspace';
import { RecentHistory, type RecentBounds } from './recent';

let server: LocalRedis;
let redis: Redis;
const errors: Error[] = [];
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});
beforeEach(async () => {
  await redis.flushall();
  errors.length = 0;
});

const BOUNDS: RecentBounds = {
  length: 5,
  roomMaxBytes: 100_000,
  totalMaxBytes: 1_000_000,
  maxRooms: 100,
  ttlMs: 60_000,
};

function envelope(room: string, data: unknown, over: Partial<Envelope> = {}): Envelope {
  return {
    id: newEnvelopeId(),
    room,
    data: data as never,
    user: 'u',
    origin: 'eu-west',
    ts: Date.now(),
    ...over,
  };
}

async function appendAll(recent: RecentHistory, envelopes: Envelope[]): Promise<void> {
  for (const e of envelopes) recent.append(encodeEnvelope(e));
  // Appends are sent after the current turn; a PING behind them on the same connection answers last.
  await new Promise((resolve) => setImmediate(resolve));
  await redis.ping();
}

async function buffered(recent: RecentHistory, room: string): Promise<unknown[]> {
  const back = await recent.readBack(room, newEnvelopeId() as EnvelopeId);
  return back.map((b) => (JSON.parse(b.envelope.json) as Envelope).data).reverse();
}

describe('RecentHistory', () => {
  it('keeps the newest envelopes of a room in delivery order, bounded by count and by bytes', async () => {
    const recent = new RecentHistory(redis, { ...BOUNDS, roomMaxBytes: 4 * 250 }, (e) => errors.push(e));
    await appendAll(
      recent,
      [1, 2, 3, 4, 5, 6, 7].map((n) => envelope('a', n)),
    );
    expect(await buffered(recent, 'a')).toEqual([3, 4, 5, 6, 7]);
    await appendAll(
      recent,
      [8, 9].map((n) => envelope('a', `${n}`.repeat(100))),
    );
    const data = await buffered(recent, 'a');
    expect(data.at(-1)).toBe('9'.repeat(100));
    expect(Number(await redis.hget(keys.recentBytes(), 'a'))).toBeLessThanOrEqual(4 * 250);
    expect(errors).toEqual([]);
  });

  it('bounds all rooms together by bytes and by rooms, dropping the least recently active rooms', async () => {
    const one = JSON.stringify(envelope('r0', 'x'.repeat(500))).length;
    const recent = new RecentHistory(redis, { ...BOUNDS, totalMaxBytes: 3 * one + 10, maxRooms: 10 }, (e) =>
      errors.push(e),
    );
    for (let i = 0; i < 6; i++) await appendAll(recent, [envelope(`r${i}`, 'x'.repeat(500))]);
    expect(await redis.zrange(keys.recentRooms(), 0, -1)).toEqual(['r3', 'r4', 'r5']);
    expect(await redis.exists(keys.recent('r0'), keys.recent('r1'), keys.recent('r2'))).toBe(0);
    expect(Number(await redis.hget(keys.recentBytes(), '#total'))).toBeLessThanOrEqual(3 * one + 10);

    const few = new RecentHistory(redis, { ...BOUNDS, maxRooms: 2 }, (e) => errors.push(e));
    await appendAll(few, [envelope('s1', 1), envelope('s2', 2), envelope('s3', 3)]);
    expect(await redis.zrange(keys.recentRooms(), -2, -1)).toEqual(['s2', 's3']);
    expect(await redis.zcard(keys.recentRooms())).toBe(2);
    expect(errors).toEqual([]);
  });

  it('never buffers an ephemeral envelope, and lets a buffer expire', async () => {
    const recent = new RecentHistory(redis, { ...BOUNDS, ttlMs: 5_000 }, (e) => errors.push(e));
    await appendAll(recent, [envelope('e', 'typing', { ephemeral: true }), envelope('e', 'stored')]);
    expect(await buffered(recent, 'e')).toEqual(['stored']);
    expect(await redis.pttl(keys.recent('e'))).toBeLessThanOrEqual(5_000);
    expect(errors).toEqual([]);
  });
});
