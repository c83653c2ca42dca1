import type { LocalNode } from '../../harness/world/node';
import { startNode } from '../../harness/world/node';
import { TEST_JWT_SECRET } from './tokens';

export interface RegionProcessOptions {
  region: string;
  nodeId: string;
  redisUrl: string;
  globalRedisUrl: string;
  databaseUrl: string;
  databaseReplicaUrl?: string;
  port?: number;
  /** Extra environment (limits, EDGE_SECRET, ...). */
  env?: Record<string, string>;
  /** Extra Node.js flags (after tsx's loader, before the program; e.g. `--expose-gc`). */
  nodeArgs?: string[];
}

/** A region node running as its own process (`regions/main.ts`), as operators run it. */
export type RegionProcess = LocalNode;

/** The tests' settings of every node: their token secret, and logs at `info`. */
export const TEST_NODE_SETTINGS = { LOG_LEVEL: 'info' };

/** One node on stores a test started itself (a local world starts its own: tests/support/region-cluster.ts). */
export function startRegionProcess(options: RegionProcessOptions): Promise<RegionProcess> {
  return startNode({
    region: options.region,
    id: options.nodeId,
    jwtSecret: TEST_JWT_SECRET,
    stores: {
      redisUrl: options.redisUrl,
      globalRedisUrl: options.globalRedisUrl,
      databaseUrl: options.databaseUrl,
      ...(options.databaseReplicaUrl ? { databaseReplicaUrl: options.databaseReplicaUrl } : {}),
    },
    settings: { ...TEST_NODE_SETTINGS, ...options.env },
    ...(options.port ? { port: options.port } : {}),
    ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
  });
}
