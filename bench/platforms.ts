import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startServerProcess, type ServerProcess } from '../harness/processes/child';
import { startPeerLinks } from '../harness/world/bus-peers';
import { startEdge, type EdgeRuntime } from '../harness/processes/edge-runtime';
import { freePort } from '../harness/processes/ports';
import { startPostgresCluster } from '../harness/processes/postgres';
import { startRedis, type LocalRedis } from '../harness/processes/redis';
import { startRegionBalancer } from '../harness/processes/haproxy';
import { ensureRedisServer } from '../harness/processes/system-programs';
import { startUpstashRest } from '../harness/processes/upstash-rest';
import { oneWayDelayMs, startWanRelay } from '../harness/processes/wan-relay';
import { migrate } from '../infra/migrate';
import { REGION_CATALOG } from '../harness/world/catalog';

const ROOT = join(import.meta.dirname, '..');

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

export interface BenchNode {
  id: string;
  region: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

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
 * Starts, from the simulation's parts: a Postgres primary in the home region; OUR platform (a Redis
 * per region, a global Redis in the home region reached through WAN relays, the bus on, a balancer
 * per region, the edge); and the two PEERS, `seeds` and `streams` (bench/peers/: plain Socket.IO
 * servers, every node of every region on one shared Redis per peer in the home region, reached
 * through the same WAN relays).
 */
export async function startWorld(
  options: { regions: string[]; nodesPerRegion: number; logDir: string },
  say: (line: string) => void,
): Promise<BenchWorld> {
  ensureRedisServer();
  const stack: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stack.splice(0).reverse()) await fn().catch(() => undefined);
  };
  try {
    const wanMs = (a: string, b: string) =>
      a === b ? 0 : oneWayDelayMs(REGION_CATALOG[a]!, REGION_CATALOG[b]!);
    /** A port in `region` for a server in the home region: direct, or through a relay with the WAN delay. */
    const reach = async (region: string, port: number) => {
      const delay = wanMs(region, HOME_REGION);
      if (delay === 0) return port;
      const relay = await startWanRelay({ port }, delay);
      stack.push(() => relay.close());
      return relay.port;
    };
    const redis = async (name: string): Promise<LocalRedis> => {
      const r = await startRedis({ logFile: join(options.logDir, `redis-${name}.log`) });
      stack.push(() => r.stop());
      return r;
    };

    const pg = await startPostgresCluster({ replicas: 0, logDir: options.logDir });
    stack.push(() => pg.destroy());
    await migrate(pg.primary.url);
    const databaseUrl = async (region: string) =>
      pg.primary.url.replace(`:${pg.primary.port}/`, `:${await reach(region, pg.primary.port)}/`);
    say(`postgres primary in ${HOME_REGION} on ${pg.primary.port}`);

    const jwtSecret = randomBytes(24).toString('base64url');
    const launch = (env: Record<string, string>, region: string, id: string) =>
      startBenchNode({ ...env, JWT_SECRET: jwtSecret, REGION: region, NODE_ID: id }, options.logDir, stack);

    const globalRedis = await redis('global');
    const sharedSeeds = await redis('seeds');
    const sharedStreams = await redis('streams');
    const envFor = new Map<string, Record<string, string>>();
    const ourRedis: Record<string, LocalRedis> = { global: globalRedis };
    for (const region of options.regions) ourRedis[region] = await redis(region);
    const peerLinks = await startPeerLinks(
      options.regions.map((id) => ({ id, redisPort: ourRedis[id]!.port })),
      wanMs,
    );
    stack.push(() => peerLinks.close());
    for (const region of options.regions) {
      const regional = ourRedis[region]!;
      const globalUrl = `redis://127.0.0.1:${await reach(region, globalRedis.port)}`;
      envFor.set(`ours/${region}`, {
        REDIS_URL: regional.url,
        BUS_PEERS: peerLinks.busPeers(region),
        GLOBAL_REDIS_URL: globalUrl,
        DATABASE_URL: await databaseUrl(region),
      });
      envFor.set(`seeds/${region}`, {
        REDIS_URL: `redis://127.0.0.1:${await reach(region, sharedSeeds.port)}`,
      });
      envFor.set(`streams/${region}`, {
        REDIS_URL: `redis://127.0.0.1:${await reach(region, sharedStreams.port)}`,
      });
    }
    const redisOf: Record<PlatformName, Record<string, LocalRedis>> = {
      ours: ourRedis,
      seeds: { shared: sharedSeeds },
      streams: { shared: sharedStreams },
    };

    const platform = async (name: PlatformName): Promise<BenchPlatform> => {
      const startNode = (region: string, id: string) =>
        name === 'ours'
          ? launch(envFor.get(`ours/${region}`)!, region, id)
          : startPeerNode(
              name,
              { ...envFor.get(`${name}/${region}`)!, JWT_SECRET: jwtSecret, REGION: region, NODE_ID: id },
              options.logDir,
              stack,
            );
      const regions = await Promise.all(
        options.regions.map(async (id) => ({
          id,
          nodes: await Promise.all(
            Array.from({ length: options.nodesPerRegion }, (_, i) => startNode(id, `${name}-${id}-${i + 1}`)),
          ),
        })),
      );
      const node = (region: string, index: number) => {
        const found = regions.find((r) => r.id === region)?.nodes[index];
        if (!found) throw new Error(`${name} has no node ${index + 1} in ${region}`);
        return found;
      };
      return { name, regions, node, startNode, redis: redisOf[name] };
    };
    const [ours, seeds, streams] = (await Promise.all(SYSTEMS.map(platform))) as [
      BenchPlatform,
      BenchPlatform,
      BenchPlatform,
    ];
    say(
      `nodes: ${options.regions.length} regions x ${options.nodesPerRegion} per system: ${SYSTEMS.join(', ')}`,
    );

    for (const region of ours.regions) {
      const balancer = await startRegionBalancer({ region: region.id, nodes: region.nodes });
      stack.push(() => balancer.close());
      (region as { balancerUrl?: string }).balancerUrl = balancer.url;
    }
    const upstash = await startUpstashRest({
      redisUrl: globalRedis.url,
      token: randomBytes(16).toString('hex'),
    });
    stack.push(() => upstash.stop());
    const edge: EdgeRuntime = await startEdge({
      regions: ours.regions.map((r) => ({ id: r.id, url: r.balancerUrl!, ...REGION_CATALOG[r.id]! })),
      sim: true,
      jwtSecret,
      upstash: { url: upstash.url, token: upstash.token },
      logFile: join(options.logDir, 'edge.log'),
    });
    stack.push(() => edge.stop());
    say(`edge (workerd) on ${edge.url}`);
    return {
      ours,
      seeds,
      streams,
      databaseUrl: pg.primary.url,
      startOurNode: (region, id, env) => launch(env, region, id),
      edge: edge.url,
      jwtSecret,
      wanMs,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * One region node (`regions/main.ts`) as operators run it, plus a bench-only preload that collects
 * garbage on SIGUSR2, so memory can be read after a full collection.
 */
function startBenchNode(
  env: Record<string, string>,
  logDir: string,
  stack: (() => Promise<void>)[],
): Promise<BenchNode> {
  return startNodeProgram(join(ROOT, 'regions', 'main.ts'), { ...BENCH_NODE_ENV, ...env }, logDir, stack);
}

/** A peer node (bench/peers/), with the same GC preload as ours. */
function startPeerNode(
  name: Exclude<PlatformName, 'ours'>,
  env: Record<string, string>,
  logDir: string,
  stack: (() => Promise<void>)[],
): Promise<BenchNode> {
  return startNodeProgram(join(import.meta.dirname, 'peers', `${name}-server.ts`), env, logDir, stack);
}

async function startNodeProgram(
  program: string,
  env: Record<string, string>,
  logDir: string,
  stack: (() => Promise<void>)[],
): Promise<BenchNode> {
  const port = await freePort();
  const proc: ServerProcess = startServerProcess(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--import', join(import.meta.dirname, 'gc-on-signal.ts'), program],
    {
      cwd: ROOT,
      env: {
        ...(process.env as Record<string, string>),
        ...env,
        HOST: '127.0.0.1',
        PORT: String(port),
      },
      logFile: join(logDir, `node-${env.NODE_ID}.log`),
    },
  );
  const stopNode = () => proc.stop(5_000);
  stack.push(stopNode);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (proc.child.exitCode !== null)
      throw new Error(`node ${env.NODE_ID} exited (${proc.child.exitCode}): ${proc.output().slice(-800)}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`node ${env.NODE_ID} not ready after 90 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { id: env.NODE_ID!, region: env.REGION!, url, pid: proc.pid, stop: stopNode };
}
