import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { startRedisCluster, type LocalRedisCluster } from '../../harness/processes/redis-cluster';
import { createRedisClient, parseRedisTarget, type RedisClient } from '../../regions/redis';
import { UNUSED_DATABASE_URL } from '../support/region-cluster';
import { startRegionProcess, type RegionProcess } from '../support/region-process';

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
  const [cluster, globalRedis] = await Promise.all([startRedisCluster(), startRedis()]);
  const nodes: RegionProcess[] = [];
  const redis = createRedisClient(parseRedisTarget(cluster.url), 'test');
  const stop = async () => {
    redis.disconnect();
    await Promise.all(nodes.map((n) => n.kill()));
    await Promise.all([cluster.stop(), globalRedis.stop()]);
  };
  try {
    const started = await Promise.all(
      Array.from({ length: options.nodes ?? 2 }, (_, i) =>
        startRegionProcess({
          region,
          nodeId: `${region}-${i + 1}`,
          redisUrl: cluster.url,
          globalRedisUrl: globalRedis.url,
          databaseUrl: UNUSED_DATABASE_URL,
          env: options.env ?? {},
        }),
      ),
    );
    nodes.push(...started);
  } catch (err) {
    await stop();
    throw err;
  }
  return { region, cluster, globalRedis, redis, nodes, stop };
}
