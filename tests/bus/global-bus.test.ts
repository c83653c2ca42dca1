import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { MemoryBus, RedisStreamsBus } from '../../regions/bus';
import { globalBusConformance } from './bus-conformance';

globalBusConformance('memory', async ({ shardCount, retention }) => new MemoryBus(shardCount, retention));

let redis: LocalRedis | undefined;
const clients: Redis[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await redis?.stop();
});

globalBusConformance('redis streams', async (options) => {
  const client = new Redis(redis!.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  clients.push(client);
  await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  await client.flushall();
  return new RedisStreamsBus(client, options);
});
