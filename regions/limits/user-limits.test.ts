import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { createLogger } from '../log';
import { RegionMetrics } from '../metrics';
import { MemoryUserLimits, type MemoryConnectionLeases } from './memory-user-limits';
import { RedisUserLimits } from './redis-user-limits';
import { userLimitsConformance } from './user-limits-conformance';

userLimitsConformance('memory', async (rules, clock) => {
  const leases: MemoryConnectionLeases = new Map();
  return { node: (nodeId) => new MemoryUserLimits(nodeId, rules, leases, clock.now) };
});

let server: LocalRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const deps = {
  log: createLogger('silent', { region: 'eu-west', node: 'test' }),
  metrics: new RegionMetrics({ region: 'eu-west', node: 'test' }),
};

userLimitsConformance('redis', async (rules, clock) => {
  await redis.flushall();
  return { node: (nodeId) => new RedisUserLimits(redis, nodeId, rules, deps, clock.now) };
});
