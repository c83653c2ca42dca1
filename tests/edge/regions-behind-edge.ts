import { afterAll, beforeAll } from 'vitest';
import { startEdge, type EdgeRuntime } from '../../harness/processes/edge-runtime';
import { freePort } from '../../harness/processes/ports';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { startUpstashRest, type UpstashRestServer } from '../../harness/processes/upstash-rest';
import { UNUSED_DATABASE_URL } from '../../harness/world/node';
import { Teardown } from '../../harness/world/teardown';
import type { Region } from '../../shared/regions';
import { closeEdgeClients } from './edge-clients';
import { startRegionProcess, type RegionProcess } from '../support/region-process';
import { TEST_JWT_SECRET } from '../support/tokens';

export const EDGE_SECRET = 'edge-secret-for-tests-0123456789';
export const UPSTASH_TOKEN = 'upstash-token-for-tests';

/** Everything an edge test starts, stopped newest first with the file (also after a failed start). */
export class TestStack extends Teardown {
  async redis(): Promise<LocalRedis> {
    return this.track(await startRedis(), 'a redis-server');
  }

  async upstash(redisUrl: string): Promise<UpstashRestServer> {
    return this.track(await startUpstashRest({ redisUrl, token: UPSTASH_TOKEN }), 'the Upstash stand-in');
  }

  /** A real region node process (own regional Redis) that requires the edge secret. */
  async regionNode(region: string, globalRedisUrl: string, port?: number): Promise<RegionProcess> {
    const redis = await this.redis();
    return this.track(
      await startRegionProcess({
        region,
        nodeId: `${region}-1`,
        redisUrl: redis.url,
        globalRedisUrl,
        databaseUrl: UNUSED_DATABASE_URL,
        ...(port ? { port } : {}),
        env: { EDGE_SECRET, LOG_LEVEL: 'warn' },
      }),
      `node ${region}-1`,
    );
  }

  async edge(regions: Region[], upstash?: UpstashRestServer): Promise<EdgeRuntime> {
    return this.track(
      await startEdge({
        regions,
        sim: true,
        jwtSecret: TEST_JWT_SECRET,
        edgeSecret: EDGE_SECRET,
        ...(upstash ? { upstash: { url: upstash.url, token: upstash.token } } : {}),
        vars: { HEALTH_CACHE_MS: '200' },
      }),
      'the edge',
    );
  }

  freePort = freePort;
}

/**
 * The stack of one test file: `setup` runs before its tests (what it started is stopped if it
 * fails), and everything is stopped after them, the edge's clients first.
 */
export function edgeTestStack(setup: (stack: TestStack) => Promise<void>): TestStack {
  const stack = new TestStack();
  beforeAll(async () => {
    try {
      await setup(stack);
    } catch (err) {
      await stack.stop();
      throw err;
    }
  });
  afterAll(async () => {
    closeEdgeClients();
    await stack.stop();
  });
  return stack;
}

export const CITY = {
  frankfurt: { lat: 50.11, lon: 8.68 },
  tokyo: { lat: 35.68, lon: 139.69 },
  saoPaulo: { lat: -23.55, lon: -46.63 },
  sydney: { lat: -33.87, lon: 151.21 },
};
