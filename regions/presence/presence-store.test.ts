import { redisForFile } from '../../tests/support/redis-for-file';
import { MemoryPresence, memoryPresenceRegion } from './memory-presence';
import { RegionalPresence } from './presence';
import { presenceStoreConformance } from './presence-conformance';

presenceStoreConformance('memory', async (timing, clock) => {
  const region = memoryPresenceRegion();
  return { node: (nodeId) => new MemoryPresence('eu-west', nodeId, timing, region, clock.now) };
});

const redis = redisForFile();

presenceStoreConformance('redis', async (timing, clock) => {
  await redis.client.flushall();
  return { node: (nodeId) => new RegionalPresence(redis.client, 'eu-west', nodeId, timing, clock.now) };
});
