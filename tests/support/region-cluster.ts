import { afterAll, beforeAll } from 'vitest';
import type { RegionBalancer } from '../../harness/processes/haproxy';
import type { LocalRedis } from '../../harness/processes/redis';
import { UNUSED_DATABASE_URL } from '../../harness/world/node';
import { startWorld, type LocalWorld, type WorldOptions } from '../../harness/world/world';
import type { RegionProcess } from './region-process';
import { TEST_NODE_SETTINGS } from './region-process';
import { closeAllClients } from './clients';
import { TEST_JWT_SECRET } from './tokens';

export { UNUSED_DATABASE_URL };

/**
 * A local world as the tests start it: the tests' token secret, nodes logging at `info`, and nodes
 * killed at the end (a drain would only make the suite slower).
 */
export function startTestWorld(options: WorldOptions): Promise<LocalWorld> {
  return startWorld({
    jwtSecret: TEST_JWT_SECRET,
    nodeShutdown: 'kill',
    ...options,
    settings: { ...TEST_NODE_SETTINGS, ...options.settings },
  });
}

/** One region: a real regional redis-server, a global one, and `nodes` real node processes. */
export interface TestRegion {
  region: string;
  redis: LocalRedis;
  globalRedis: LocalRedis;
  nodes: RegionProcess[];
  /** The region's HAProxy, when started with `balancer: true`. */
  balancer?: RegionBalancer;
  stop(): Promise<void>;
}

export interface TestRegionOptions {
  region?: string;
  nodes?: number;
  env?: Record<string, string>;
  /** Extra Node.js flags for every node. */
  nodeArgs?: string[];
  /** A real HAProxy in front of the nodes. */
  balancer?: boolean;
}

/**
 * The region of one test file: started before its tests, stopped after them (socket.io clients
 * first). Its fields are there once the file's tests run.
 */
export function useTestRegion(options: TestRegionOptions): TestRegion {
  const region = {} as TestRegion;
  beforeAll(async () => void Object.assign(region, await startTestRegion(options)));
  afterAll(async () => {
    closeAllClients();
    await region.stop?.();
  });
  return region;
}

/** Two eu-west nodes behind their HAProxy, for one test file; a node drains for `drainMs` on SIGTERM. */
export function useBalancedRegion(drainMs: number): TestRegion & { balancer: RegionBalancer } {
  const env = { DRAIN_TIMEOUT_MS: String(drainMs) };
  return useTestRegion({ region: 'eu-west', nodes: 2, env, balancer: true }) as TestRegion & {
    balancer: RegionBalancer;
  };
}

export async function startTestRegion(options: TestRegionOptions): Promise<TestRegion> {
  const region = options.region ?? 'eu-west';
  const world = await startTestWorld({
    regions: [{ id: region, nodes: options.nodes ?? 2 }],
    settings: options.env ?? {},
    ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
    balancers: options.balancer ?? false,
  });
  const { redis, nodes, balancer } = world.region(region);
  return {
    region,
    redis: redis.server!,
    globalRedis: world.globalRedis,
    nodes,
    ...(balancer ? { balancer } : {}),
    stop: () => world.stop(),
  };
}
