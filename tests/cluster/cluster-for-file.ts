import type { Cluster } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedisCluster, type LocalRedisCluster } from '../../harness/processes/redis-cluster';
import { createRedisClient, parseRedisTarget } from '../../regions/redis';

/** A real local Redis Cluster (3 masters, 3 replicas) for the tests of one file, and a client of it. */
export interface ClusterForFile {
  /** The cluster: started before the file's first test, stopped after its last. */
  readonly cluster: LocalRedisCluster;
  /** A cluster client that knows the slot map (`nodes('master')` lists the masters). */
  readonly client: Cluster;
  /** Empties every master. */
  flushMasters(): Promise<void>;
}

/** Starts a real Redis Cluster for this test file (vitest `beforeAll` / `afterAll`); use it inside tests. */
export function clusterForFile(): ClusterForFile {
  let cluster: LocalRedisCluster | undefined;
  let client: Cluster | undefined;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    const started = createRedisClient(parseRedisTarget(cluster.url), 'test', {
      enableOfflineQueue: true,
      commandTimeout: 3_000,
    }) as Cluster;
    client = started;
    if (started.status !== 'ready') await new Promise((resolve) => started.once('ready', resolve));
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });
  const started = () => {
    if (!cluster || !client)
      throw new Error('the cluster of this file is not started yet (use it inside a test)');
    return { cluster, client };
  };
  return {
    get cluster() {
      return started().cluster;
    },
    get client() {
      return started().client;
    },
    async flushMasters() {
      await Promise.all(
        started()
          .client.nodes('master')
          .map((node) => node.flushall()),
      );
    },
  };
}
