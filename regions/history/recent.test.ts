import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { encodeEnvelope } from '../../shared';
import { keys } from '../keyspace';
import { MemoryRecentHistory } from './memory-recent';
import { RECENT_BOUNDS, recentEnvelope, recentHistoryConformance } from './recent-conformance';
import { RedisRecentHistory } from './redis-recent';

recentHistoryConformance('memory', async (bounds) => new MemoryRecentHistory(bounds));

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

recentHistoryConformance('redis', async (bounds) => {
  await redis.flushall();
  return new RedisRecentHistory(redis, bounds, (err) => errors.push(err));
});

describe('RedisRecentHistory', () => {
  it('keeps its byte counts within the bounds and lets every key expire', async () => {
    await redis.flushall();
    const recent = new RedisRecentHistory(
      redis,
      { ...RECENT_BOUNDS, totalMaxBytes: 2_000, ttlMs: 5_000 },
      (err) => errors.push(err),
    );
    for (let i = 0; i < 6; i++) recent.append(encodeEnvelope(recentEnvelope(`k${i}`, 'x'.repeat(500))));
    await recent.settled();
    expect(Number(await redis.hget(keys.recentBytes(), '#total'))).toBeLessThanOrEqual(2_000);
    for (const key of [keys.recent('k5'), keys.recentRooms(), keys.recentBytes()]) {
      expect(await redis.pttl(key)).toBeGreaterThan(0);
      expect(await redis.pttl(key)).toBeLessThanOrEqual(5_000);
    }
    expect(errors).toEqual([]);
  });
});
