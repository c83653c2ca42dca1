import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedis } from '../../harness/processes/redis';
import { RedisStreamsBus } from '../../regions/bus/redis-bus';
import { eventually } from '../support/clients';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

describe('a shard read on the Redis bus', () => {
  it('settles when aborted while the global Redis is down, so a consumer can always stop', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    // As the node's global client: fail fast, reconnect forever.
    const client = new Redis(server.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 200,
    });
    client.on('error', () => undefined);
    cleanup.push(async () => client.disconnect());
    await new Promise((resolve) => client.once('ready', resolve));
    const bus = new RedisStreamsBus(client, { shardCount: 1, retention: { maxLen: 1000, maxAgeMs: 60_000 } });
    await bus.ensureGroup(0, 'eu-west', 'all');

    const controller = new AbortController();
    const read = bus.readNew(0, 'eu-west', 'node-1', {
      count: 10,
      blockMs: 30_000,
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 200)); // the read now waits at the server
    await server.stop(); // ... which goes away: the read's connection starts reconnecting
    await eventually(() => client.status === 'reconnecting', 'the client to be reconnecting');

    controller.abort();
    let settled: unknown;
    void read.then((entries) => (settled = entries));
    await eventually(() => settled !== undefined, 'the aborted read to settle', 3_000);
    expect(settled).toEqual([]);
  });
});
