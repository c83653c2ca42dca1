import { redisForFile } from '../../tests/support/redis-for-file';
import { createLogger } from '../log';
import { RegionMetrics } from '../metrics';
import { MemoryUserLimits, type MemoryConnectionLeases } from './memory-user-limits';
import { RedisUserLimits } from './redis-user-limits';
import { userLimitsConformance } from './user-limits-conformance';

userLimitsConformance('memory', async (rules, clock) => {
  const leases: MemoryConnectionLeases = new Map();
  return { node: (nodeId) => new MemoryUserLimits(nodeId, rules, leases, clock.now) };
});

const redis = redisForFile();

const deps = {
  log: createLogger('silent', { region: 'eu-west', node: 'test' }),
  metrics: new RegionMetrics({ region: 'eu-west', node: 'test' }),
};

userLimitsConformance('redis', async (rules, clock) => {
  await redis.client.flushall();
  return { node: (nodeId) => new RedisUserLimits(redis.client, nodeId, rules, deps, clock.now) };
});
