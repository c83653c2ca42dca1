import { join } from 'node:path';
import type { LocalRedis } from '../harness/processes/redis';
import type { LocalNode } from '../harness/world/node';
import { startWorld, type LocalWorld } from '../harness/world/world';

/** Where the global Redis (ours), the peers' shared Redis and the Postgres primary are. */
export const HOME_REGION = 'us-east';

/** Idempotency and dedup windows of our bench nodes, in seconds (see BENCH_NODE_ENV). */
export const FOOTPRINT_WINDOW_S = 30;

/**
 * Limits a benchmark must not run into (a rate limit would measure the limiter): every one of our
 * bench nodes gets them (the peers have no limits). The idempotency and dedup windows are shortened
 * so that the footprint scenario can read the Redis memory once they have passed.
 */
export const BENCH_NODE_ENV: Record<string, string> = {
  PUBLISH_RATE_PER_CONNECTION: '1000000',
  PUBLISH_RATE_PER_USER: '1000000',
  EPHEMERAL_RATE_PER_USER: '1000000',
  MAX_CONNECTIONS_PER_USER: '1000000',
  MAX_CONNECTIONS_PER_NODE: '50000',
  HANDSHAKE_RATE_PER_IP: '1000000',
  REQUEST_RATE_PER_CONNECTION: '1000000',
  DRAIN_TIMEOUT_MS: '1000',
  IDEMPOTENCY_WINDOW_S: String(FOOTPRINT_WINDOW_S),
  BUS_DEDUP_WINDOW_S: String(FOOTPRINT_WINDOW_S),
  LOG_LEVEL: 'warn',
};

/** The systems every scenario compares, in the order each repetition measures them. */
export const SYSTEMS = ['ours', 'seeds', 'streams'] as const;
export type PlatformName = (typeof SYSTEMS)[number];

export type BenchNode = LocalNode;

/** One system under test: its nodes by region, and how to start one more node wired the same way. */
export interface BenchPlatform {
  name: PlatformName;
  regions: { id: string; nodes: BenchNode[]; balancerUrl?: string }[];
  node(region: string, index: number): BenchNode;
  startNode(region: string, id: string): Promise<BenchNode>;
  /** The Redis servers this system keeps its state in, by name (ours: each region's and the global). */
  redis: Record<string, LocalRedis>;
}

/** The three systems, side by side on this machine, sharing only the Postgres primary and the load. */
export interface BenchWorld {
  ours: BenchPlatform;
  seeds: BenchPlatform;
  streams: BenchPlatform;
  /** Our Postgres primary (history), for the footprint scenario's row count. */
  databaseUrl: string;
  /**
   * Starts one more of our nodes with exactly `env` for its Redis, Postgres and bus (the bench's
   * limits, secret, region and id are added), stopped with the world.
   */
  startOurNode(region: string, id: string, env: Record<string, string>): Promise<BenchNode>;
  /** The edge (workerd) in front of our regions' balancers. */
  edge: string;
  jwtSecret: string;
  /** One-way WAN delay in ms between two regions. */
  wanMs(a: string, b: string): number;
  stop(): Promise<void>;
}

/**
 * Starts, as one local world: a Postgres primary in the home region; OUR platform (a Redis per
 * region, a global Redis in the home region reached through WAN relays, the bus on, a balancer per
 * region, the edge); and the two PEERS, `seeds` and `streams` (bench/peers/: plain Socket.IO
 * servers, every node of every region on one shared Redis per peer in the home region, reached
 * through the same WAN relays).
 */
export async function startBenchWorld(
  options: { regions: string[]; nodesPerRegion: number; logDir: string },
  say: (line: string) => void,
): Promise<BenchWorld> {
  const world: LocalWorld = await startWorld({
    regions: options.regions.map((id) => ({ id, nodes: options.nodesPerRegion })),
    home: HOME_REGION,
    wan: true,
    postgres: { replicas: 0 },
    balancers: true,
    edge: {},
    settings: BENCH_NODE_ENV,
    nodeArgs: GC_ON_SIGNAL,
    nodeId: (region, n) => `ours-${region}-${n}`,
    nodesAtOnce: true,
    readyTimeoutMs: 90_000,
    logDir: options.logDir,
    say,
  });
  try {
    const ours: BenchPlatform = {
      name: 'ours',
      regions: world.regions.map((r) => ({ id: r.id, nodes: r.nodes, balancerUrl: r.url })),
      node: nodeOf('ours', world.regions),
      startNode: (region, id) => world.startNode(region, id),
      redis: {
        global: world.globalRedis,
        ...Object.fromEntries(world.regions.map((r) => [r.id, r.redis.server!])),
      },
    };
    const [seeds, streams] = await Promise.all(
      (['seeds', 'streams'] as const).map((name) => startPeer(world, name, options)),
    );
    say(
      `nodes: ${options.regions.length} regions x ${options.nodesPerRegion} per system: ${SYSTEMS.join(', ')}`,
    );
    return {
      ours,
      seeds: seeds!,
      streams: streams!,
      databaseUrl: world.postgres!.primary.url,
      startOurNode: (region, id, env) =>
        world.startNode(region, id, { stores: { redisUrl: env.REDIS_URL ?? '' }, settings: env }),
      edge: world.edge!.url,
      jwtSecret: world.jwtSecret,
      wanMs: world.wanMs,
      stop: () => world.stop(),
    };
  } catch (err) {
    await world.stop();
    throw err;
  }
}

/** Node.js flags of every bench node: a preload that collects garbage on SIGUSR2 (bench/gc-on-signal.ts). */
const GC_ON_SIGNAL = ['--expose-gc', '--import', join(import.meta.dirname, 'gc-on-signal.ts')];

/** A peer (bench/peers/): its nodes in every region, all on one shared Redis in the home region. */
async function startPeer(
  world: LocalWorld,
  name: Exclude<PlatformName, 'ours'>,
  options: { regions: string[]; nodesPerRegion: number },
): Promise<BenchPlatform> {
  const shared = await world.startRedis(name);
  const redisUrlIn = new Map<string, string>();
  for (const region of options.regions)
    redisUrlIn.set(region, `redis://127.0.0.1:${await world.reach(region, shared.port)}`);
  // The peers have no limits, and nothing of ours: only their Redis.
  const startNode = (region: string, id: string) =>
    world.startNode(region, id, {
      stores: { redisUrl: redisUrlIn.get(region)! },
      settings: { LOG_LEVEL: 'warn' },
      program: join(import.meta.dirname, 'peers', `${name}-server.ts`),
    });
  const regions = await Promise.all(
    options.regions.map(async (id) => ({
      id,
      nodes: await Promise.all(
        Array.from({ length: options.nodesPerRegion }, (_, i) => startNode(id, `${name}-${id}-${i + 1}`)),
      ),
    })),
  );
  return { name, regions, node: nodeOf(name, regions), startNode, redis: { shared } };
}

function nodeOf(
  name: PlatformName,
  regions: readonly { id: string; nodes: BenchNode[] }[],
): (region: string, index: number) => BenchNode {
  return (region, index) => {
    const found = regions.find((r) => r.id === region)?.nodes[index];
    if (!found) throw new Error(`${name} has no node ${index + 1} in ${region}`);
    return found;
  };
}
