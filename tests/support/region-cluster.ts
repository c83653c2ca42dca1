import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { startRegionProcess, type RegionProcess } from './region-process';

/** Region nodes need a DATABASE_URL; tests that do not touch history give one that is never dialled. */
export const UNUSED_DATABASE_URL = 'postgres://u:p@127.0.0.1:1/unused';

/** One region: a real regional redis-server, a global one, and `nodes` real node processes. */
export interface TestRegion {
  region: string;
  redis: LocalRedis;
  globalRedis: LocalRedis;
  nodes: RegionProcess[];
  stop(): Promise<void>;
}

export async function startTestRegion(options: {
  region?: string;
  nodes?: number;
  env?: Record<string, string>;
  /** Extra Node.js flags for every node. */
  nodeArgs?: string[];
  globalRedis?: LocalRedis;
  /** The region's Redis, if already started (it is stopped with the region). */
  redis?: LocalRedis;
}): Promise<TestRegion> {
  const region = options.region ?? 'eu-west';
  const redis = options.redis ?? (await startRedis());
  const ownGlobal = !options.globalRedis;
  const globalRedis = options.globalRedis ?? (await startRedis());
  const nodes: RegionProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    await redis.stop();
    if (ownGlobal) await globalRedis.stop();
  };
  try {
    for (let i = 1; i <= (options.nodes ?? 2); i++) {
      nodes.push(
        await startRegionProcess({
          region,
          nodeId: `${region}-${i}`,
          redisUrl: redis.url,
          globalRedisUrl: globalRedis.url,
          databaseUrl: UNUSED_DATABASE_URL,
          env: options.env ?? {},
          ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
        }),
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { region, redis, globalRedis, nodes, stop };
}
