import { redisForFile } from '../../tests/support/redis-for-file';
import { MemoryNodeRegistry, RedisNodeRegistry } from './registry';
import { nodeRegistryConformance } from './registry-conformance';

nodeRegistryConformance('memory', async (clock) => new MemoryNodeRegistry(clock.now));

const redis = redisForFile();

nodeRegistryConformance('redis', async (clock) => {
  await redis.client.flushall();
  return new RedisNodeRegistry(redis.client, clock.now);
});
