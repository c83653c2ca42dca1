import { startEdge, type EdgeRuntime } from '../../harness/processes/edge-runtime';
import { freePort } from '../../harness/processes/ports';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { startUpstashRest, type UpstashRestServer } from '../../harness/processes/upstash-rest';
import type { Region } from '../../shared/regions';
import { startRegionProcess, type RegionProcess } from '../support/region-process';
import { TEST_JWT_SECRET } from '../support/tokens';
import { closeEdgeClients } from './edge-clients';

export const EDGE_SECRET = 'edge-secret-for-tests-0123456789';
export const UPSTASH_TOKEN = 'upstash-token-for-tests';
// Region nodes only validate it today; nothing listens there.
const DATABASE_URL = 'postgres://u:p@127.0.0.1:1/x';

/** Everything an edge test starts, stopped in reverse order by `stopAll` (also after a failure). */
export class TestStack {
  private readonly stops: (() => Promise<void>)[] = [];

  /** Runs `setUp`; when it fails, stops what it had started before passing the error on. */
  async start(setUp: () => Promise<void>): Promise<void> {
    try {
      await setUp();
    } catch (err) {
      await this.stopAll();
      throw err;
    }
  }

  track<T extends { stop(): Promise<void> }>(thing: T): T {
    this.stops.push(() => thing.stop());
    return thing;
  }

  async redis(): Promise<LocalRedis> {
    return this.track(await startRedis());
  }

  async upstash(redisUrl: string): Promise<UpstashRestServer> {
    return this.track(await startUpstashRest({ redisUrl, token: UPSTASH_TOKEN }));
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
        databaseUrl: DATABASE_URL,
        ...(port ? { port } : {}),
        env: { EDGE_SECRET, LOG_LEVEL: 'warn' },
      }),
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
    );
  }

  freePort = freePort;

  /** Closes the test's clients, then stops everything started, newest first. */
  async stopAll(): Promise<void> {
    closeEdgeClients();
    for (const stop of this.stops.splice(0).reverse()) await stop().catch((err) => console.error(err));
  }
}

export const CITY = {
  frankfurt: { lat: 50.11, lon: 8.68 },
  tokyo: { lat: 35.68, lon: 139.69 },
  saoPaulo: { lat: -23.55, lon: -46.63 },
  sydney: { lat: -33.87, lon: 151.21 },
};
