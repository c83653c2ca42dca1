import { startPostgresCluster, type LocalPostgresCluster } from '../../../harness/processes/postgres';
import { startRedis, type LocalRedis } from '../../../harness/processes/redis';
import { migrate, type MigrateResult } from '../../../infra/migrate';
import { closeAllClients } from '../../support/clients';
import { startRegionProcess, type RegionProcess } from '../../support/region-process';

/** Real Postgres (primary + optional streaming replica), real Redis servers, real region node processes. */
export interface HistoryStack {
  pg: LocalPostgresCluster;
  firstMigration: MigrateResult;
  globalRedis: LocalRedis;
  /** Starts `count` nodes of `region` on a regional redis-server of its own. */
  startRegion(region: string, count: number, env?: Record<string, string>): Promise<RegionProcess[]>;
  /** Stops everything started, in reverse order; safe to call after a partial start. */
  stop(): Promise<void>;
}

export async function startHistoryStack(options: { replicas: number }): Promise<HistoryStack> {
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    closeAllClients();
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((err: Error) => console.error(`cleanup failed: ${err.message}`));
    }
  };
  try {
    const pg = await startPostgresCluster({ replicas: options.replicas });
    cleanups.push(() => pg.destroy());
    const firstMigration = await migrate(pg.primary.url);
    const globalRedis = await startRedis();
    cleanups.push(() => globalRedis.stop());
    return {
      pg,
      firstMigration,
      globalRedis,
      async startRegion(region, count, env = {}) {
        const redis = await startRedis();
        cleanups.push(() => redis.stop());
        const nodes: RegionProcess[] = [];
        for (let i = 1; i <= count; i++) {
          const node = await startRegionProcess({
            region,
            nodeId: `${region}-${i}`,
            redisUrl: redis.url,
            globalRedisUrl: globalRedis.url,
            databaseUrl: pg.primary.url,
            ...(pg.replicas[0] ? { databaseReplicaUrl: pg.replicas[0].url } : {}),
            env: {
              LOG_LEVEL: 'warn',
              PUBLISH_RATE_PER_CONNECTION: '500',
              PUBLISH_RATE_PER_USER: '1000',
              ...env,
            },
          });
          cleanups.push(() => node.kill());
          nodes.push(node);
        }
        return nodes;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The value of a Prometheus counter or gauge whose labels include all of `labels` (0 when absent). */
export async function metricValue(
  nodeUrl: string,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const text = await (await fetch(`${nodeUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}
