import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startPeerLinks } from '../world/bus-peers';
import { reapOnExit, startServerProcess, type ServerProcess } from '../processes/child';
import { startEdge, type EdgeRuntime } from '../processes/edge-runtime';
import { freePort, listeningPid } from '../processes/ports';
import { startPostgresCluster, type LocalPostgresCluster } from '../processes/postgres';
import { startRedis, type LocalRedis } from '../processes/redis';
import { clusterBusPeers, startRegionalRedis, type SimRegionalRedis } from '../world/regional-redis';
import { startRegionBalancer, type RegionBalancer } from '../processes/haproxy';
import { ensureHaproxy, ensureRedisServer } from '../processes/system-programs';
import { startUpstashRest, type UpstashRestServer } from '../processes/upstash-rest';
import { oneWayDelayMs, startWanRelay, type WanRelay } from '../processes/wan-relay';
import { migrate } from '../../infra/migrate';
import { REGION_CATALOG } from '../world/catalog';
import type { SimOptions } from './options';
import { NODE_DRAIN_MS, regionRestarter, waitReady, type SimNode } from './rolling-restart';
import type { SimState } from './state';

const ROOT = join(import.meta.dirname, '..', '..');

/** The running simulation. */
export interface Platform {
  readonly state: SimState;
  /** Resolves with a description when a process the platform started exits on its own. */
  onUnexpectedExit(listener: (what: string) => void): void;
  /** Rolling restart of every node of `region`, one at a time; `report` hears each step. */
  restartRegion(region: string, report: (line: string) => void): Promise<{ ms: number }>;
  stop(): Promise<void>;
}

/** Starts everything `npm start` runs, in dependency order, reporting each step through `say`. */
export async function startPlatform(
  options: SimOptions,
  say: (line: string) => void = () => undefined,
): Promise<Platform> {
  const started = Date.now();
  const dir = resolve(options.dir);
  const logs = join(dir, 'logs');
  await rm(join(dir, 'state.json'), { force: true });
  await mkdir(logs, { recursive: true });
  ensureRedisServer();
  ensureHaproxy();

  // What runs, in start order; stopped in reverse, each step named in the shutdown report.
  const stack: { what: string | (() => string); stop: () => Promise<void> }[] = [];
  const onStop = (what: string | (() => string), stop: () => Promise<void>) =>
    void stack.push({ what, stop });
  const listeners: ((what: string) => void)[] = [];
  let stopping = false;
  // Processes stopped on purpose (a rolling restart) are not reported when they exit.
  const stoppedOnPurpose = new WeakSet<object>();
  const watch = (what: string, proc: { exited: Promise<number | null> }) =>
    void proc.exited.then((code) => {
      if (stopping || stoppedOnPurpose.has(proc)) return;
      for (const l of listeners) l(`${what} exited unexpectedly (code ${code})`);
    });
  const stop = async () => {
    stopping = true;
    for (const step of stack.splice(0).reverse()) {
      const began = Date.now();
      await step.stop().catch(() => undefined);
      say(`stopped ${typeof step.what === 'string' ? step.what : step.what()} (${Date.now() - began} ms)`);
    }
  };

  try {
    const home = REGION_CATALOG[options.primaryRegion]!;
    const delay = (region: string) => (options.wan ? oneWayDelayMs(REGION_CATALOG[region]!, home) : 0);

    const globalRedis: LocalRedis = await startRedis({ logFile: join(logs, 'redis-global.log') });
    onStop(`global redis (pid ${globalRedis.pid})`, () => globalRedis.stop());
    const regionalRedis = new Map<string, SimRegionalRedis>();
    for (const region of options.regions) {
      const redis = await startRegionalRedis({
        cluster: options.redisCluster,
        logFile: join(logs, `redis-${region}.log`),
      });
      onStop(`redis of ${region} (pids ${redis.processes.map((p) => p.pid).join(' ')})`, () => redis.stop());
      regionalRedis.set(region, redis);
    }
    say(
      `redis: global on ${globalRedis.port}, regional on ${[...regionalRedis].map(([r, x]) => `${r}:${x.port}`).join(' ')}`,
    );

    const pg: LocalPostgresCluster = await startPostgresCluster({
      replicas: options.replicaRegions.length,
      logDir: logs,
    });
    onStop(`postgres (pids ${[pg.primary, ...pg.replicas].map((s) => s.pid).join(' ')})`, () => pg.destroy());
    const applied = await migrate(pg.primary.url);
    say(
      `postgres: primary (${options.primaryRegion}) on ${pg.primary.port}, ${pg.replicas.length} streaming replica(s); ${applied.applied.length} migration(s) applied`,
    );

    // Far regions reach the global Redis and the primary through relays that add their WAN delay.
    const relayed = async (region: string, port: number): Promise<number> => {
      if (delay(region) === 0) return port;
      const relay: WanRelay = await startWanRelay({ port }, delay(region));
      onStop(`WAN relay of ${region} to port ${port}`, () => relay.close());
      return relay.port;
    };

    // Each region appends to every other region's Redis directly, one WAN hop (docs/delivery.md).
    const peerLinks = await startPeerLinks(
      options.regions.map((id) => ({ id, redisPort: regionalRedis.get(id)!.port })),
      (from, to) => (options.wan ? oneWayDelayMs(REGION_CATALOG[from]!, REGION_CATALOG[to]!) : 0),
    );
    onStop('bus links between regions', () => peerLinks.close());

    const jwtSecret = randomBytes(24).toString('base64url');
    // The server API key the application's backend would hold (docs/server-api.md).
    const serverApiKey = randomBytes(32).toString('base64url');
    const edgeSecret = options.edgeSecret ? randomBytes(24).toString('base64url') : undefined;
    let nextPort = options.basePort;
    const port = async () => (options.basePort > 0 ? nextPort++ : freePort());

    const regions: SimState['regions'] = [];
    const balancers = new Map<string, RegionBalancer>();
    const processes: SimState['processes'] = [];
    const nodeStarts: Promise<void>[] = [];
    // Every region node, by region; a rolling restart replaces a node's process in place.
    const simNodes = new Map<string, SimNode[]>();
    const allNodes = () => [...simNodes.values()].flat();
    // Nodes drain in parallel on shutdown.
    onStop(
      () =>
        `region nodes, drained in parallel (pids ${allNodes()
          .map((n) => n.proc.pid)
          .join(' ')})`,
      async () => void (await Promise.all(allNodes().map((n) => n.proc.stop(5_000)))),
    );
    for (const region of options.regions) {
      const redis = regionalRedis.get(region)!;
      const replicaIndex = options.replicaRegions.indexOf(region);
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        REGION: region,
        HOST: '127.0.0.1',
        REDIS_URL: redis.url,
        BUS_PEERS: redis.cluster ? clusterBusPeers(region, regionalRedis) : peerLinks.busPeers(region),
        GLOBAL_REDIS_URL: `redis://127.0.0.1:${await relayed(region, globalRedis.port)}`,
        DATABASE_URL: pg.primary.url.replace(
          `:${pg.primary.port}/`,
          `:${await relayed(region, pg.primary.port)}/`,
        ),
        ...(replicaIndex >= 0 ? { DATABASE_REPLICA_URL: pg.replicas[replicaIndex]!.url } : {}),
        JWT_SECRET: jwtSecret,
        ...(edgeSecret ? { EDGE_SECRET: edgeSecret } : {}),
        SERVER_API_KEYS: serverApiKey,
        DRAIN_TIMEOUT_MS: String(NODE_DRAIN_MS),
        // The region's load balancer and the edge run on this machine: their x-forwarded-for counts.
        TRUSTED_PROXIES: '127.0.0.0/8,::1/128',
      };
      const nodes: SimState['regions'][number]['nodes'] = [];
      const regionNodes: SimNode[] = [];
      for (let i = 1; i <= options.nodesPerRegion; i++) {
        const nodeId = `${region}-${i}`;
        const nodePort = await port();
        const logFile = join(logs, `node-${nodeId}.log`);
        const url = `http://127.0.0.1:${nodePort}`;
        const launch = () => {
          const proc: ServerProcess = startServerProcess(
            process.execPath,
            ['--import', 'tsx', join(ROOT, 'regions', 'main.ts')],
            { cwd: ROOT, env: { ...env, NODE_ID: nodeId, PORT: String(nodePort) }, logFile },
          );
          watch(`region node ${nodeId} (pid ${proc.pid}, log ${logFile})`, proc);
          return proc;
        };
        const node: SimNode = { id: nodeId, region, url, port: nodePort, proc: launch(), launch };
        regionNodes.push(node);
        nodes.push({ id: nodeId, url, pid: node.proc.pid });
        processes.push({ role: 'region-node', region, url, port: nodePort, pid: node.proc.pid });
        nodeStarts.push(waitReady(url, node.proc, nodeId));
      }
      simNodes.set(region, regionNodes);
      const { lat, lon } = REGION_CATALOG[region]!;
      regions.push({ id: region, lat, lon, url: '', redis: { url: redis.url, pid: redis.pid }, nodes });
    }
    await Promise.all(nodeStarts);
    for (const region of regions) {
      const balancer = await startRegionBalancer({
        region: region.id,
        nodes: region.nodes,
        port: await port(),
        metricsPort: await port(),
        logFile: join(logs, `haproxy-${region.id}.log`),
      });
      onStop(`haproxy of ${region.id} (pid ${balancer.pid})`, () => balancer.close());
      balancers.set(region.id, balancer);
      region.url = balancer.url;
      region.balancer = { pid: balancer.pid, metricsUrl: balancer.metricsUrl };
    }
    say(
      `regions: ${regions.map((r) => `${r.id} (${r.nodes.length} nodes behind HAProxy ${r.url})`).join(', ')}`,
    );

    const upstash: UpstashRestServer = await startUpstashRest({
      redisUrl: globalRedis.url,
      token: randomBytes(16).toString('hex'),
    });
    onStop('upstash REST stand-in', () => upstash.stop());
    const edge: EdgeRuntime = await startEdge({
      port: options.edgePort,
      regions: regions.map(({ id, url, lat, lon }) => ({ id, url, lat, lon })),
      sim: true,
      jwtSecret,
      ...(edgeSecret ? { edgeSecret } : {}),
      upstash: { url: upstash.url, token: upstash.token },
      vars: { SERVER_API_KEYS: serverApiKey },
      logFile: join(logs, 'edge.log'),
    });
    onStop('edge (workerd)', () => edge.stop());

    // The edge is served by workerd, a child process of Miniflare: report the process that listens.
    const edgePid = (await listeningPid(edge.port)) ?? process.pid;
    if (edgePid !== process.pid) reapOnExit(edgePid);
    const oneWayMs: Record<string, number> = {};
    for (const a of options.regions) {
      for (const b of options.regions) {
        if (a !== b)
          oneWayMs[`${a}>${b}`] = options.wan ? oneWayDelayMs(REGION_CATALOG[a]!, REGION_CATALOG[b]!) : 0;
      }
    }
    const state: SimState = {
      edge: edge.url,
      jwtSecret,
      ...(edgeSecret ? { edgeSecret } : {}),
      serverApiKey,
      startupMs: Date.now() - started,
      globalRedis: { url: globalRedis.url, pid: globalRedis.pid },
      postgres: {
        primary: { url: pg.primary.url, pid: pg.primary.pid, region: options.primaryRegion },
        replicas: pg.replicas.map((r, i) => ({ url: r.url, pid: r.pid, region: options.replicaRegions[i]! })),
      },
      regions,
      wan: { enabled: options.wan, oneWayMs },
      processes: [
        { role: 'edge', url: edge.url, port: edge.port, pid: edgePid },
        {
          role: 'global-redis',
          region: options.primaryRegion,
          url: globalRedis.url,
          port: globalRedis.port,
          pid: globalRedis.pid,
        },
        ...regions.flatMap((r) =>
          regionalRedis.get(r.id)!.processes.map(({ port, pid }) => ({
            role: 'regional-redis',
            region: r.id,
            url: r.redis.url,
            port,
            pid,
          })),
        ),
        {
          role: 'postgres-primary',
          region: options.primaryRegion,
          url: pg.primary.url,
          port: pg.primary.port,
          pid: pg.primary.pid,
        },
        ...pg.replicas.map((r, i) => ({
          role: 'postgres-replica',
          region: options.replicaRegions[i]!,
          url: r.url,
          port: r.port,
          pid: r.pid,
        })),
        ...processes,
        ...regions.flatMap((r) => {
          const balancer = balancers.get(r.id)!;
          return [
            { role: 'region-balancer', region: r.id, url: r.url, port: balancer.port, pid: balancer.pid },
            {
              role: 'region-balancer-metrics',
              region: r.id,
              url: balancer.metricsUrl,
              port: balancer.metricsPort,
              pid: balancer.pid,
            },
          ];
        }),
        { role: 'upstash-rest', url: upstash.url, port: upstash.port, pid: process.pid },
      ],
    };
    const writeState = () => writeFile(join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
    await writeState();
    const restartRegion = regionRestarter({
      nodes: simNodes,
      balancers,
      stoppedOnPurpose,
      isStopping: () => stopping,
      replaced: async (node) => {
        for (const entry of [
          ...state.regions.flatMap((r) => r.nodes.filter((n) => n.id === node.id)),
          ...state.processes.filter((p) => p.role === 'region-node' && p.url === node.url),
        ])
          entry.pid = node.proc.pid;
        await writeState();
      },
    });
    return { state, onUnexpectedExit: (l) => void listeners.push(l), restartRegion, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
