import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { migrate, type MigrateResult } from '../../infra/migrate';
import type { ServerProcess } from '../processes/child';
import { startEdge, type EdgeRuntime } from '../processes/edge-runtime';
import { startRegionBalancer, type RegionBalancer } from '../processes/haproxy';
import { freePort } from '../processes/ports';
import { startPostgresCluster, type LocalPostgresCluster } from '../processes/postgres';
import { startRedis, type LocalRedis } from '../processes/redis';
import { ensureRedisServer } from '../processes/system-programs';
import { startUpstashRest, type UpstashRestServer } from '../processes/upstash-rest';
import { oneWayDelayMs, startWanRelay } from '../processes/wan-relay';
import { startPeerLinks, type PeerLinks } from './bus-peers';
import { REGION_CATALOG } from './catalog';
import { startNode, type LocalNode, type NodeStores, type StartNodeOptions } from './node';
import { clusterBusPeers, startRegionalRedis, type RegionalRedis } from './regional-redis';
import { Teardown } from './teardown';

export interface RegionSpec {
  id: string;
  /** Default 1. */
  nodes?: number;
  /** Settings of this region's nodes, over the world's `settings`. */
  settings?: Record<string, string>;
  /** A local Redis Cluster instead of one `redis-server`. */
  redisCluster?: boolean;
}

export interface WorldOptions {
  regions: (string | RegionSpec)[];
  /** Where the global Redis and the Postgres primary are. Default: the first region. */
  home?: string;
  /** WAN delays from the regions' distance (REGION_CATALOG) on every path between regions. */
  wan?: boolean;
  /** A Postgres primary in `home`, migrated, with `replicas` streaming replicas. None: no Postgres. */
  postgres?: {
    replicas: number;
    /** The replica a region reads from (an index), if any. Default: the first, for every region. */
    replicaOf?: (region: string) => number | undefined;
  };
  /** Bus links from every region to every other one (`BUS_PEERS`). Default: on. */
  bus?: boolean;
  /** A real HAProxy in front of each region's nodes. */
  balancers?: boolean;
  /** The edge (workerd) in front of the regions, reading health through an Upstash REST stand-in. */
  edge?: { port?: number; edgeSecret?: string; vars?: Record<string, string> };
  /** Default: a random one. */
  jwtSecret?: string;
  /** Settings (limits, LOG_LEVEL, ...) of every node. */
  settings?: Record<string, string>;
  /** Node.js flags of every node. */
  nodeArgs?: string[];
  /** Node ids. Default: `{region}-{n}`. */
  nodeId?: (region: string, n: number) => string;
  /** Start every node of the world at once. Default: regions at once, a region's nodes in order. */
  nodesAtOnce?: boolean;
  /** At teardown, nodes drain (SIGTERM, for `graceMs`) or are killed (the tests: quicker). */
  nodeShutdown?: { drain: number } | 'kill';
  readyTimeoutMs?: number;
  /** Hears every node process started (first starts and restarts). */
  onNodeLaunch?: (node: string, proc: ServerProcess) => void;
  /** Each server's log file goes here. Default: none. */
  logDir?: string;
  /** Ports of nodes, balancers and their metrics. Default: free ports. */
  port?: () => Promise<number>;
  /** Hears one line per phase. */
  say?: (line: string) => void;
}

export interface WorldRegion {
  readonly id: string;
  readonly redis: RegionalRedis;
  /** How this region's nodes reach their stores. */
  readonly stores: NodeStores;
  readonly nodes: LocalNode[];
  /** The region's public entry (its balancer when it has one). */
  url: string;
  balancer?: RegionBalancer;
}

/** What one node may have of its own: its stores, settings (over the world's), program, flags. */
export type NodeExtras = Partial<Pick<StartNodeOptions, 'stores' | 'settings' | 'program' | 'nodeArgs'>>;

/** Some regions plus their stores, on this machine: what the simulation, the bench and the tests run. */
export interface LocalWorld extends AsyncDisposable {
  readonly home: string;
  readonly jwtSecret: string;
  readonly globalRedis: LocalRedis;
  readonly postgres?: LocalPostgresCluster;
  readonly migrations?: MigrateResult;
  readonly regions: WorldRegion[];
  region(id: string): WorldRegion;
  readonly links?: PeerLinks;
  readonly edge?: EdgeRuntime;
  readonly upstash?: UpstashRestServer;
  /** One-way WAN delay between two regions (0 without `wan`). */
  wanMs(a: string, b: string): number;
  /** A loopback port that reaches `port` of a server in `home` from `region` (through a WAN relay). */
  reach(region: string, port: number): Promise<number>;
  /** One more Redis server (in `home`), stopped with the world. */
  startRedis(name: string): Promise<LocalRedis>;
  /**
   * One more node of `region`, stopped with the world. Its stores default to the region's; with
   * `stores`, `region` need not be one of the world's.
   */
  startNode(region: string, id: string, options?: NodeExtras): Promise<LocalNode>;
  /** One more region (its Redis and nodes; no bus links to it), stopped with the world. */
  addRegion(spec: string | RegionSpec): Promise<WorldRegion>;
  readonly teardown: Teardown;
  /** Stops everything, newest first; `report` hears each step. */
  stop(report?: (line: string) => void): Promise<void>;
}

/** Starts a local world in dependency order: stores, bus links, nodes, balancers, edge. */
export async function startWorld(options: WorldOptions): Promise<LocalWorld> {
  ensureRedisServer();
  const teardown = new Teardown();
  try {
    return await assemble(options, teardown);
  } catch (err) {
    await teardown.stop();
    throw err;
  }
}

async function assemble(options: WorldOptions, teardown: Teardown): Promise<LocalWorld> {
  const specs = options.regions.map((r) => (typeof r === 'string' ? { id: r } : r));
  const home = options.home ?? specs[0]?.id ?? 'us-east';
  const say = options.say ?? (() => undefined);
  const log = (name: string) => (options.logDir ? { logFile: join(options.logDir, name) } : {});
  const port = options.port ?? freePort;
  const jwtSecret = options.jwtSecret ?? randomBytes(24).toString('base64url');
  const wanMs = (a: string, b: string) =>
    options.wan && a !== b ? oneWayDelayMs(REGION_CATALOG[a]!, REGION_CATALOG[b]!) : 0;
  const reach = async (region: string, target: number) => {
    const delay = wanMs(region, home);
    if (delay === 0) return target;
    const relay = await startWanRelay({ port: target }, delay);
    teardown.defer(`WAN relay of ${region} to port ${target}`, () => relay.close());
    return relay.port;
  };
  const extraRedis = async (name: string) => {
    const redis = await startRedis(log(`redis-${name}.log`));
    teardown.track(redis, () => `${name} redis (pid ${redis.pid})`);
    return redis;
  };
  const regionalRedis = async (spec: RegionSpec) => {
    const redis = await startRegionalRedis({ cluster: !!spec.redisCluster, ...log(`redis-${spec.id}.log`) });
    teardown.track(redis, () => `redis of ${spec.id} (pids ${redis.processes.map((p) => p.pid).join(' ')})`);
    return redis;
  };

  const globalRedis = await extraRedis('global');
  const redisOf = new Map<string, RegionalRedis>();
  for (const spec of specs) redisOf.set(spec.id, await regionalRedis(spec));
  if (specs.length > 0)
    say(
      `redis: global on ${globalRedis.port}, regional on ${[...redisOf].map(([r, x]) => `${r}:${x.port}`).join(' ')}`,
    );

  let postgres: LocalPostgresCluster | undefined;
  let migrations: MigrateResult | undefined;
  if (options.postgres) {
    const pg = await startPostgresCluster({
      replicas: options.postgres.replicas,
      ...(options.logDir ? { logDir: options.logDir } : {}),
    });
    teardown.defer(`postgres (pids ${[pg.primary, ...pg.replicas].map((s) => s.pid).join(' ')})`, () =>
      pg.destroy(),
    );
    postgres = pg;
    migrations = await migrate(pg.primary.url);
    say(
      `postgres: primary (${home}) on ${pg.primary.port}, ${pg.replicas.length} streaming replica(s); ${migrations.applied.length} migration(s) applied`,
    );
  }

  // Each region appends to every other region's Redis directly, one WAN hop (docs/delivery.md).
  const bus = (options.bus ?? true) && specs.length > 1;
  let links: PeerLinks | undefined;
  if (bus && specs.some((s) => !s.redisCluster)) {
    links = await startPeerLinks(
      specs.map(({ id }) => ({ id, redisPort: redisOf.get(id)!.port })),
      wanMs,
    );
    teardown.defer('bus links between regions', () => links!.close());
  }

  const storesOf = async (spec: RegionSpec, withBus: boolean): Promise<NodeStores> => {
    const redis = redisOf.get(spec.id)!;
    const replica = postgres && (options.postgres!.replicaOf ?? (() => 0))(spec.id);
    const primaryPort = postgres?.primary.port;
    return {
      redisUrl: redis.url,
      globalRedisUrl: `redis://127.0.0.1:${await reach(spec.id, globalRedis.port)}`,
      ...(postgres
        ? {
            databaseUrl: postgres.primary.url.replace(
              `:${primaryPort}/`,
              `:${await reach(spec.id, primaryPort!)}/`,
            ),
          }
        : {}),
      ...(replica !== undefined && postgres?.replicas[replica]
        ? { databaseReplicaUrl: postgres.replicas[replica].url }
        : {}),
      ...(withBus
        ? { busPeers: spec.redisCluster ? clusterBusPeers(spec.id, redisOf) : links!.busPeers(spec.id) }
        : {}),
    };
  };

  const regions: WorldRegion[] = [];
  const regionById = (id: string) => {
    const found = regions.find((r) => r.id === id);
    if (!found) throw new Error(`no region ${id} in this world (${regions.map((r) => r.id).join(', ')})`);
    return found;
  };
  const launch = async (region: { id: string; stores: NodeStores }, id: string, extra: NodeExtras = {}) =>
    startNode({
      region: region.id,
      id,
      jwtSecret,
      stores: extra.stores ?? region.stores,
      settings: { ...options.settings, ...extra.settings },
      ...(extra.program ? { program: extra.program } : {}),
      nodeArgs: extra.nodeArgs ?? options.nodeArgs ?? [],
      ...(options.port ? { port: await options.port() } : {}),
      ...log(`node-${id}.log`),
      ...(options.readyTimeoutMs ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
      onLaunch: (proc) => options.onNodeLaunch?.(id, proc),
    });
  const shutdown = options.nodeShutdown ?? { drain: 5_000 };
  /** Stops `nodes` with the world, all at once (a drain takes the same time for one or all). */
  const stopWithWorld = (nodes: LocalNode[]) =>
    teardown.defer(
      () =>
        `region nodes, ${shutdown === 'kill' ? 'killed' : 'drained'} in parallel (pids ${nodes.map((n) => n.pid).join(' ')})`,
      () => Promise.all(nodes.map((n) => (shutdown === 'kill' ? n.kill() : n.stop(shutdown.drain)))),
    );
  const startRegions = async (batch: RegionSpec[], withBus: boolean) => {
    const started: WorldRegion[] = [];
    for (const spec of batch) {
      const region: WorldRegion = {
        id: spec.id,
        redis: redisOf.get(spec.id)!,
        stores: await storesOf(spec, withBus),
        nodes: [],
        url: '',
      };
      regions.push(region);
      started.push(region);
    }
    const all = started.flatMap((r) => r.nodes);
    stopWithWorld(all);
    const startRegion = async (region: WorldRegion, spec: RegionSpec) => {
      const ids = Array.from({ length: spec.nodes ?? 1 }, (_, i) =>
        (options.nodeId ?? ((r, n) => `${r}-${n}`))(region.id, i + 1),
      );
      const add = (node: LocalNode) => void (region.nodes.push(node), all.push(node));
      if (options.nodesAtOnce)
        await Promise.all(ids.map(async (id) => add(await launch(region, id, { settings: spec.settings }))));
      else for (const id of ids) add(await launch(region, id, { settings: spec.settings }));
      region.url = region.nodes[0]?.url ?? '';
    };
    const results = await Promise.allSettled(started.map((r, i) => startRegion(r, batch[i]!)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return started;
  };
  await startRegions(specs, bus);

  if (options.balancers) {
    for (const region of regions) {
      const balancer = await startRegionBalancer({
        region: region.id,
        nodes: region.nodes,
        port: await port(),
        metricsPort: await port(),
        ...log(`haproxy-${region.id}.log`),
      });
      teardown.track({ stop: () => balancer.close() }, `haproxy of ${region.id} (pid ${balancer.pid})`);
      region.balancer = balancer;
      region.url = balancer.url;
    }
  }
  if (regions.length > 0)
    say(
      `regions: ${regions.map((r) => `${r.id} (${r.nodes.length} nodes${r.balancer ? ` behind HAProxy ${r.url}` : ''})`).join(', ')}`,
    );

  let edge: EdgeRuntime | undefined;
  let upstash: UpstashRestServer | undefined;
  if (options.edge) {
    upstash = await startUpstashRest({ redisUrl: globalRedis.url, token: randomBytes(16).toString('hex') });
    teardown.track(upstash, 'upstash REST stand-in');
    edge = await startEdge({
      ...(options.edge.port !== undefined ? { port: options.edge.port } : {}),
      regions: regions.map(({ id, url }) => ({ id, url, ...REGION_CATALOG[id]! })),
      sim: true,
      jwtSecret,
      ...(options.edge.edgeSecret ? { edgeSecret: options.edge.edgeSecret } : {}),
      upstash: { url: upstash.url, token: upstash.token },
      ...(options.edge.vars ? { vars: options.edge.vars } : {}),
      ...log('edge.log'),
    });
    teardown.track(edge, 'edge (workerd)');
    say(`edge (workerd) on ${edge.url}`);
  }

  return {
    home,
    jwtSecret,
    globalRedis,
    ...(postgres ? { postgres } : {}),
    ...(migrations ? { migrations } : {}),
    regions,
    region: regionById,
    ...(links ? { links } : {}),
    ...(edge ? { edge } : {}),
    ...(upstash ? { upstash } : {}),
    wanMs,
    reach,
    startRedis: extraRedis,
    async startNode(regionId, id, extra) {
      const region = extra?.stores ? { id: regionId, stores: extra.stores } : regionById(regionId);
      const node = await launch(region, id, extra);
      stopWithWorld([node]);
      return node;
    },
    async addRegion(spec) {
      const full = typeof spec === 'string' ? { id: spec } : spec;
      redisOf.set(full.id, await regionalRedis(full));
      return (await startRegions([full], false))[0]!;
    },
    teardown,
    stop: (report) => teardown.stop(report),
    [Symbol.asyncDispose]: () => teardown.stop(),
  };
}
