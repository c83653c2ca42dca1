import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { reapOnExit } from '../processes/child';
import { listeningPid } from '../processes/ports';
import { ensureHaproxy } from '../processes/system-programs';
import { REGION_CATALOG } from '../world/catalog';
import { startWorld, type LocalWorld } from '../world/world';
import type { SimOptions } from './options';
import { NODE_DRAIN_MS, regionRestarter } from './rolling-restart';
import type { SimState } from './state';

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
  ensureHaproxy();

  const listeners: ((what: string) => void)[] = [];
  let stopping = false;
  // Processes stopped on purpose (a rolling restart) are not reported when they exit.
  const stoppedOnPurpose = new WeakSet<object>();
  const watch = (what: string, proc: { exited: Promise<number | null> }) =>
    void proc.exited.then((code) => {
      if (stopping || stoppedOnPurpose.has(proc)) return;
      for (const l of listeners) l(`${what} exited unexpectedly (code ${code})`);
    });

  const jwtSecret = randomBytes(24).toString('base64url');
  // The server API key the application's backend would hold (docs/server-api.md).
  const serverApiKey = randomBytes(32).toString('base64url');
  const edgeSecret = options.edgeSecret ? randomBytes(24).toString('base64url') : undefined;
  let nextPort = options.basePort;
  const world: LocalWorld = await startWorld({
    regions: options.regions.map((id) => ({
      id,
      nodes: options.nodesPerRegion,
      redisCluster: options.redisCluster,
    })),
    home: options.primaryRegion,
    wan: options.wan,
    postgres: {
      replicas: options.replicaRegions.length,
      replicaOf: (region) => {
        const index = options.replicaRegions.indexOf(region);
        return index >= 0 ? index : undefined;
      },
    },
    balancers: true,
    edge: {
      port: options.edgePort,
      ...(edgeSecret ? { edgeSecret } : {}),
      vars: { SERVER_API_KEYS: serverApiKey },
    },
    jwtSecret,
    settings: {
      ...(edgeSecret ? { EDGE_SECRET: edgeSecret } : {}),
      SERVER_API_KEYS: serverApiKey,
      DRAIN_TIMEOUT_MS: String(NODE_DRAIN_MS),
      // The region's load balancer and the edge run on this machine: their x-forwarded-for counts.
      TRUSTED_PROXIES: '127.0.0.0/8,::1/128',
    },
    nodesAtOnce: true,
    nodeShutdown: { drain: 5_000 },
    onNodeLaunch: (id, proc) =>
      watch(`region node ${id} (pid ${proc.pid}, log ${logs}/node-${id}.log)`, proc),
    logDir: logs,
    ...(options.basePort > 0 ? { port: async () => nextPort++ } : {}),
    say,
  });
  const stop = async () => {
    stopping = true;
    await world.stop(say);
  };
  try {
    const state = await simState(world, options, { started, jwtSecret, serverApiKey, edgeSecret });
    const writeState = () => writeFile(join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
    await writeState();
    const restartRegion = regionRestarter({
      regions: world.regions,
      stoppedOnPurpose,
      isStopping: () => stopping,
      replaced: async (node) => {
        for (const entry of [
          ...state.regions.flatMap((r) => r.nodes.filter((n) => n.id === node.id)),
          ...state.processes.filter((p) => p.role === 'region-node' && p.url === node.url),
        ])
          entry.pid = node.pid;
        await writeState();
      },
    });
    return { state, onUnexpectedExit: (l) => void listeners.push(l), restartRegion, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `.sim/state.json` of a started world: what runs where, every process with its pid. */
async function simState(
  world: LocalWorld,
  options: SimOptions,
  secrets: { started: number; jwtSecret: string; serverApiKey: string; edgeSecret: string | undefined },
): Promise<SimState> {
  const edge = world.edge!;
  const pg = world.postgres!;
  // The edge is served by workerd, a child process of Miniflare: report the process that listens.
  const edgePid = (await listeningPid(edge.port)) ?? process.pid;
  if (edgePid !== process.pid) reapOnExit(edgePid);
  const oneWayMs: Record<string, number> = {};
  for (const a of options.regions)
    for (const b of options.regions) if (a !== b) oneWayMs[`${a}>${b}`] = world.wanMs(a, b);
  const regions: SimState['regions'] = world.regions.map((r) => ({
    id: r.id,
    lat: REGION_CATALOG[r.id]!.lat,
    lon: REGION_CATALOG[r.id]!.lon,
    url: r.url,
    redis: { url: r.redis.url, pid: r.redis.pid },
    nodes: r.nodes.map((n) => ({ id: n.id, url: n.url, pid: n.pid })),
    ...(r.balancer ? { balancer: { pid: r.balancer.pid, metricsUrl: r.balancer.metricsUrl } } : {}),
  }));
  const role = (role: string, region: string | undefined, url: string, port: number, pid: number) => ({
    role,
    ...(region ? { region } : {}),
    url,
    port,
    pid,
  });
  return {
    edge: edge.url,
    jwtSecret: secrets.jwtSecret,
    ...(secrets.edgeSecret ? { edgeSecret: secrets.edgeSecret } : {}),
    serverApiKey: secrets.serverApiKey,
    startupMs: Date.now() - secrets.started,
    globalRedis: { url: world.globalRedis.url, pid: world.globalRedis.pid },
    postgres: {
      primary: { url: pg.primary.url, pid: pg.primary.pid, region: options.primaryRegion },
      replicas: pg.replicas.map((r, i) => ({ url: r.url, pid: r.pid, region: options.replicaRegions[i]! })),
    },
    regions,
    wan: { enabled: options.wan, oneWayMs },
    processes: [
      role('edge', undefined, edge.url, edge.port, edgePid),
      role(
        'global-redis',
        options.primaryRegion,
        world.globalRedis.url,
        world.globalRedis.port,
        world.globalRedis.pid,
      ),
      ...world.regions.flatMap((r) =>
        r.redis.processes.map(({ port, pid }) => role('regional-redis', r.id, r.redis.url, port, pid)),
      ),
      role('postgres-primary', options.primaryRegion, pg.primary.url, pg.primary.port, pg.primary.pid),
      ...pg.replicas.map((r, i) =>
        role('postgres-replica', options.replicaRegions[i]!, r.url, r.port, r.pid),
      ),
      ...world.regions.flatMap((r) => r.nodes.map((n) => role('region-node', r.id, n.url, n.port, n.pid))),
      ...world.regions.flatMap((r) => {
        const balancer = r.balancer!;
        return [
          role('region-balancer', r.id, r.url, balancer.port, balancer.pid),
          role('region-balancer-metrics', r.id, balancer.metricsUrl, balancer.metricsPort, balancer.pid),
        ];
      }),
      role('upstash-rest', undefined, world.upstash!.url, world.upstash!.port, process.pid),
    ],
  };
}
