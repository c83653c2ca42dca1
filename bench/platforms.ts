import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startServerProcess, type ServerProcess } from '../infra/local/child';
import { startPeerLinks } from '../infra/local/bus-peers';
import { startEdge, type EdgeRuntime } from '../infra/local/edge-runtime';
import { freePort } from '../infra/local/ports';
import { startPostgresCluster } from '../infra/local/postgres';
import { startRedis, type LocalRedis } from '../infra/local/redis';
import { startRegionBalancer } from '../infra/local/haproxy';
import { ensureRedisServer } from '../infra/local/system-programs';
import { startUpstashRest } from '../infra/local/upstash-rest';
import { oneWayDelayMs, startWanRelay } from '../infra/local/wan-relay';
import { migrate } from '../infra/migrate';
import { REGION_CATALOG } from '../infra/sim/catalog';

const ROOT = join(import.meta.dirname, '..');

/** Where the global Redis (ours), the shared Redis (baseline) and the Postgres primary are. */
export const HOME_REGION = 'us-east';

/**
 * Limits a benchmark must not run into (a rate limit would measure the limiter): every bench node
 * gets them, on both platforms.
 */
export const BENCH_NODE_ENV: Record<string, string> = {
  PUBLISH_RATE_PER_CONNECTION: '1000000',
  PUBLISH_RATE_PER_USER: '1000000',
  MAX_CONNECTIONS_PER_USER: '1000000',
  MAX_CONNECTIONS_PER_NODE: '50000',
  DRAIN_TIMEOUT_MS: '1000',
  LOG_LEVEL: 'warn',
};

export type PlatformName = 'ours' | 'baseline';

export interface BenchNode {
  id: string;
  region: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** One platform under test: its nodes by region, and how to start one more node wired the same way. */
export interface BenchPlatform {
  name: PlatformName;
  regions: { id: string; nodes: BenchNode[]; balancerUrl?: string }[];
  node(region: string, index: number): BenchNode;
  startNode(region: string, id: string): Promise<BenchNode>;
}

/** Both platforms, side by side on this machine, sharing only the Postgres primary and the load. */
export interface BenchWorld {
  ours: BenchPlatform;
  baseline: BenchPlatform;
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
 * per region, the edge); and the BASELINE (the same node program with `GLOBAL_BUS=off`, every region's
 * `REDIS_URL` and `GLOBAL_REDIS_URL` the one shared Redis in the home region, through WAN relays).
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
    const shared = await redis('shared');
    const envFor = new Map<string, Record<string, string>>();
    const regionalRedis = new Map<string, LocalRedis>();
    for (const region of options.regions) regionalRedis.set(region, await redis(region));
    const peerLinks = await startPeerLinks(
      options.regions.map((id) => ({ id, redisPort: regionalRedis.get(id)!.port })),
      wanMs,
    );
    stack.push(() => peerLinks.close());
    for (const region of options.regions) {
      const regional = regionalRedis.get(region)!;
      const globalUrl = `redis://127.0.0.1:${await reach(region, globalRedis.port)}`;
      const sharedUrl = `redis://127.0.0.1:${await reach(region, shared.port)}`;
      const db = await databaseUrl(region);
      envFor.set(`ours/${region}`, {
        REDIS_URL: regional.url,
        BUS_PEERS: peerLinks.busPeers(region),
        GLOBAL_REDIS_URL: globalUrl,
        DATABASE_URL: db,
      });
      envFor.set(`baseline/${region}`, {
        REDIS_URL: sharedUrl,
        GLOBAL_REDIS_URL: sharedUrl,
        DATABASE_URL: db,
        GLOBAL_BUS: 'off',
      });
    }

    const platform = async (name: PlatformName): Promise<BenchPlatform> => {
      const startNode = (region: string, id: string) => launch(envFor.get(`${name}/${region}`)!, region, id);
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
      return { name, regions, node, startNode };
    };
    const [ours, baseline] = await Promise.all([platform('ours'), platform('baseline')]);
    say(
      `nodes: ${options.regions.length} regions x ${options.nodesPerRegion} per platform, ours and baseline`,
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
    return { ours, baseline, edge: edge.url, jwtSecret, wanMs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * One region node (`regions/main.ts`) as operators run it, plus a bench-only preload that collects
 * garbage on SIGUSR2, so memory can be read after a full collection.
 */
async function startBenchNode(
  env: Record<string, string>,
  logDir: string,
  stack: (() => Promise<void>)[],
): Promise<BenchNode> {
  const port = await freePort();
  const proc: ServerProcess = startServerProcess(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      '--import',
      join(import.meta.dirname, 'gc-on-signal.ts'),
      join(ROOT, 'regions', 'main.ts'),
    ],
    {
      cwd: ROOT,
      env: {
        ...(process.env as Record<string, string>),
        ...BENCH_NODE_ENV,
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
