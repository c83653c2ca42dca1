import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { startUpstashRest, type UpstashRestServer } from '../../harness/processes/upstash-rest';

// The local Upstash REST endpoint over a real redis-server, driven by the real @upstash/redis client.
let redis: LocalRedis | undefined;
let rest: UpstashRestServer | undefined;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  rest = await startUpstashRest({ redisUrl: redis.url, token: 'local-token' });
  client = new Redis({ url: rest.url, token: rest.token, enableTelemetry: false, retry: false });
});

afterAll(async () => {
  await rest?.stop();
  await redis?.stop();
});

describe('local Upstash REST server', () => {
  it('runs single commands with base64 results, as @upstash/redis expects', async () => {
    expect(await client.set('greeting', 'héllo wörld')).toBe('OK');
    expect(await client.get('greeting')).toBe('héllo wörld');
    expect(await client.incr('counter')).toBe(1);
    expect(await client.get('missing')).toBeNull();
    await client.hset('rt:health', { 'eu-west/n1': JSON.stringify({ ok: true }), 'us-east/n1': 'x' });
    expect(await client.hgetall('rt:health')).toEqual({ 'eu-west/n1': { ok: true }, 'us-east/n1': 'x' });
    expect(await client.lrange('nothing', 0, -1)).toEqual([]);
  });

  it('runs pipelines and transactions', async () => {
    const pipeline = client.pipeline();
    pipeline.set('p:a', '1');
    pipeline.incr('p:a');
    pipeline.get('p:a');
    expect(await pipeline.exec()).toEqual(['OK', 2, 2]);
    const tx = client.multi();
    tx.lpush('p:list', 'a', 'b');
    tx.lrange('p:list', 0, -1);
    expect(await tx.exec()).toEqual([2, ['b', 'a']]);
  });

  it('reports Redis errors and refuses a wrong token', async () => {
    await client.set('p:string', 'v');
    await expect(client.incr('p:string')).rejects.toThrow(/not an integer/);
    const res = await fetch(rest!.url, {
      method: 'POST',
      headers: { authorization: 'Bearer wrong' },
      body: '["GET","greeting"]',
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'Unauthorized' });
  });

  it('answers plain JSON without the base64 header, and commands in the path', async () => {
    const headers = { authorization: `Bearer ${rest!.token}` };
    const res = await fetch(rest!.url, { method: 'POST', headers, body: '["GET","greeting"]' });
    expect(await res.json()).toEqual({ result: 'héllo wörld' });
    const path = await fetch(`${rest!.url}/get/greeting`, { headers });
    expect(await path.json()).toEqual({ result: 'héllo wörld' });
  });
});
