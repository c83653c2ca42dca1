import type { LocalRedis } from '../../harness/processes/redis';
import type { LocalRedisCluster } from '../../harness/processes/redis-cluster';
import { createRedisClient, parseRedisTarget, type RedisClient } from '../../regions/redis';
import { startTestWorld } from '../support/region-cluster';
import type { RegionProcess } from '../support/region-process';

/** One region whose Redis is a real 6-process Redis Cluster, with a single global Redis. */
export interface ClusterRegion {
  region: string;
  cluster: LocalRedisCluster;
  globalRedis: LocalRedis;
  /** A client of the region's cluster, for checking what the nodes stored. */
  redis: RedisClient;
  nodes: RegionProcess[];
  stop(): Promise<void>;
}

export async function startClusterRegion(
  options: { region?: string; nodes?: number; env?: Record<string, string> } = {},
): Promise<ClusterRegion> {
  const region = options.region ?? 'eu-west';
  const world = await startTestWorld({
    regions: [{ id: region, nodes: options.nodes ?? 2, redisCluster: true }],
    settings: options.env ?? {},
    nodesAtOnce: true,
  });
  const { redis, nodes } = world.region(region);
  const client = createRedisClient(parseRedisTarget(redis.url), 'test');
  world.teardown.defer('the cluster client', async () => client.disconnect());
  return {
    region,
    cluster: redis.cluster!,
    globalRedis: world.globalRedis,
    redis: client,
    nodes,
    stop: () => world.stop(),
  };
}
