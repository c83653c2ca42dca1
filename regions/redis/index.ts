export {
  connectRedis,
  createRedisClient,
  duplicateClient,
  isReady,
  type ConnectionOptions,
  type RedisClient,
} from './client';
export { connectRegionRedis, type RegionRedis } from './region-redis';
export { parseRedisTarget, type RedisTarget } from './target';
