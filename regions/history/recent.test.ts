import { describe, expect, it } from 'vitest';
import { redisForFile } from '../../tests/support/redis-for-file';
import { encodeEnvelope } from '../../shared';
import { keys } from '../keyspace';
import { MemoryRecentHistory } from './memory-recent';
import { recentBounds, recentEnvelope, recentHistoryConformance } from './recent-conformance';
import { RedisRecentHistory } from './redis-recent';

recentHistoryConformance('memory', async (bounds) => new MemoryRecentHistory(bounds));

const file = redisForFile();
const errors: Error[] = [];

recentHistoryConformance('redis', async (bounds) => {
  const redis = file.client;
  await redis.flushall();
  return new RedisRecentHistory(redis, bounds, (err) => errors.push(err));
});

describe('RedisRecentHistory', () => {
  it('keeps its byte counts within the bounds and lets every key expire', async () => {
    const redis = file.client;
    await redis.flushall();
    const recent = new RedisRecentHistory(
      redis,
      recentBounds({ totalMaxBytes: 2_000, ttlMs: 5_000 }),
      (err) => errors.push(err),
    );
    for (let i = 0; i < 6; i++) recent.append([encodeEnvelope(recentEnvelope(`k${i}`, 'x'.repeat(500)))]);
    await recent.settled();
    expect(Number(await redis.hget(keys.recentBytes(), '#total'))).toBeLessThanOrEqual(2_000);
    for (const key of [keys.recent('k5'), keys.recentRooms(), keys.recentBytes()]) {
      expect(await redis.pttl(key)).toBeGreaterThan(0);
      expect(await redis.pttl(key)).toBeLessThanOrEqual(5_000);
    }
    expect(errors).toEqual([]);
  });

  it('reads entries written before origin and ts were kept beside the JSON', async () => {
    const redis = file.client;
    await redis.flushall();
    const recent = new RedisRecentHistory(redis, recentBounds(), (err) => errors.push(err));
    const old = recentEnvelope('old', { text: 'é ✓', n: [1e21] }, { origin: 'ap-southeast', ts: 1234 });
    const json = JSON.stringify(old);
    await redis.xadd(keys.recent('old'), '*', 'i', old.id, 'e', json);
    const [entry] = await recent.readBack('old', old.id);
    expect(entry!.envelope).toEqual({
      id: old.id,
      origin: 'ap-southeast',
      ts: 1234,
      json,
      bytes: Buffer.byteLength(json),
    });
  });

  it('appends a batch that failed once Redis is back, in order, before what came after it', async () => {
    const redis = await file.connect({
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    const failed: string[][] = [];
    const recent = new RedisRecentHistory(redis, recentBounds(), (_err, rooms) => failed.push(rooms));
    await file.server.stop();
    while (redis.status === 'ready') await new Promise((r) => setTimeout(r, 10));
    const [a1, b1, a2] = [recentEnvelope('a', 1), recentEnvelope('b', 1), recentEnvelope('a', 2)];
    recent.append([a1, b1].map((e) => encodeEnvelope(e)));
    recent.append([encodeEnvelope(a2)]);
    await file.server.restart();
    await recent.settled();
    expect(failed[0]).toEqual(['a', 'b']);
    const read = async (room: string) =>
      (await recent.readBack(room, a1.id)).map((b) => b.envelope.id).reverse();
    expect(await read('a')).toEqual([a1.id, a2.id]);
    expect(await read('b')).toEqual([b1.id]);
  });
});
