import type { LocalPostgresCluster } from '../../../harness/processes/postgres';
import type { LocalRedis } from '../../../harness/processes/redis';
import type { MigrateResult } from '../../../infra/migrate';
import { closeAllClients } from '../../support/clients';
import { startTestWorld } from '../../support/region-cluster';
import type { RegionProcess } from '../../support/region-process';

/** Real Postgres (primary + optional streaming replica), real Redis servers, real region node processes. */
export interface HistoryStack {
  pg: LocalPostgresCluster;
  firstMigration: MigrateResult;
  globalRedis: LocalRedis;
  /** Starts `count` nodes of `region` on a regional redis-server of its own. */
  startRegion(region: string, count: number, env?: Record<string, string>): Promise<RegionProcess[]>;
  /** The regional Redis URL of a started region (its outbox, the history group). */
  regionRedisUrl(region: string): string;
  /** Stops everything started, in reverse order; safe to call after a partial start. */
  stop(): Promise<void>;
}

export async function startHistoryStack(options: { replicas: number }): Promise<HistoryStack> {
  const world = await startTestWorld({
    regions: [],
    postgres: { replicas: options.replicas },
    settings: { LOG_LEVEL: 'warn', PUBLISH_RATE_PER_CONNECTION: '500', PUBLISH_RATE_PER_USER: '1000' },
  });
  world.teardown.defer('the test clients', async () => closeAllClients());
  return {
    pg: world.postgres!,
    firstMigration: world.migrations!,
    globalRedis: world.globalRedis,
    startRegion: async (region, count, env = {}) =>
      (await world.addRegion({ id: region, nodes: count, settings: env })).nodes,
    regionRedisUrl: (region) => world.region(region).stores.redisUrl,
    stop: () => world.stop(),
  };
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
