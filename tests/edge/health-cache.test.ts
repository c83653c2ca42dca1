import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { edgeConfig, type EdgeConfig } from '../../edge/config';
import { readHealth, statesAt, type HealthSnapshot } from '../../edge/routing';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { startUpstashRest, type UpstashRestServer } from '../../harness/processes/upstash-rest';
import { HEALTH_HASH } from '../../shared/regions';
import { encodeHeartbeat } from '../../shared/wire';

// The edge's per-isolate health cache over the real @upstash/redis client, the local REST endpoint
// and a real redis-server. Only Date is faked, so the cache's age is exact and every read is real.
const T0 = Date.UTC(2026, 0, 1);
const CACHE_MS = 60_000;
let redis: LocalRedis | undefined;
let rest: UpstashRestServer | undefined;
let client: Redis;
let config: EdgeConfig;

async function beat(region: string, draining: boolean): Promise<void> {
  const heartbeat = {
    region,
    node: `${region}-1`,
    url: 'http://127.0.0.1:9',
    connections: 0,
    capacity: 100,
    load: 0,
    draining,
    expiresAt: T0 + 10 * CACHE_MS,
  };
  await client.hset(HEALTH_HASH, `${region}/${region}-1`, encodeHeartbeat(heartbeat));
}

const statusOf = (snapshot: HealthSnapshot, region: string) =>
  statesAt(config, snapshot, Date.now()).find((s) => s.region.id === region)?.status;

beforeAll(async () => {
  redis = await startRedis();
  rest = await startUpstashRest({ redisUrl: redis.url, token: 'health-cache-token' });
  client = new Redis(redis.url);
  config = edgeConfig({
    REGIONS: [
      { id: 'us-east', url: 'http://127.0.0.1:1', lat: 38.9, lon: -77 },
      { id: 'eu-west', url: 'http://127.0.0.1:2', lat: 53.3, lon: -6.3 },
    ],
    HEALTH_CACHE_MS: String(CACHE_MS),
    UPSTASH_REDIS_REST_URL: rest.url,
    UPSTASH_REDIS_REST_TOKEN: rest.token,
  });
  vi.useFakeTimers({ toFake: ['Date'] });
});

afterAll(async () => {
  vi.useRealTimers();
  client?.disconnect();
  await rest?.stop();
  await redis?.stop();
});

describe('the health read cached per isolate', () => {
  it('answers from the cache, refreshes behind the request after half its life, and then routes on the refresh', async () => {
    vi.setSystemTime(T0);
    await beat('us-east', false);
    await beat('eu-west', false);
    const first = await readHealth(config);
    expect(first.source).toBe('live');
    expect(statusOf(first, 'eu-west')).toBe('healthy');

    // eu-west starts draining; a request inside the first half of the cache's life is not held up
    // by a read and sees the cached health.
    await beat('eu-west', true);
    const background: Promise<unknown>[] = [];
    vi.setSystemTime(T0 + CACHE_MS / 2 - 1);
    expect(await readHealth(config, (work) => background.push(work))).toBe(first);
    expect(background).toHaveLength(0);

    // Past half its life the cached read is still the answer, and one refresh starts behind it.
    vi.setSystemTime(T0 + CACHE_MS / 2);
    expect(await readHealth(config, (work) => background.push(work))).toBe(first);
    expect(await readHealth(config, (work) => background.push(work))).toBe(first);
    expect(background).toHaveLength(1);
    await background[0];

    // Still inside the cache's life, the next request routes on the refresh: eu-west is skipped.
    const refreshed = await readHealth(config);
    expect(refreshed).not.toBe(first);
    expect(statusOf(refreshed, 'eu-west')).toBe('draining');
    expect(statusOf(refreshed, 'us-east')).toBe('healthy');
  });

  it('reads again, and waits for it, once the cache has expired', async () => {
    await beat('eu-west', false);
    vi.setSystemTime(T0 + 3 * CACHE_MS);
    const fresh = await readHealth(config);
    expect(statusOf(fresh, 'eu-west')).toBe('healthy');
  });
});
