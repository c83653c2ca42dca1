import { randomBytes } from 'node:crypto';
import type { MigrateResult } from '../../infra/migrate';
import type { ServerProcess } from '../processes/child';
import type { EdgeRuntime } from '../processes/edge-runtime';
import type { RegionBalancer } from '../processes/haproxy';
import type { LocalPostgresCluster } from '../processes/postgres';
import type { LocalRedis } from '../processes/redis';
import { ensureRedisServer } from '../processes/system-programs';
import type { UpstashRestServer } from '../processes/upstash-rest';
import type { PeerLinks } from './bus-peers';
import { worldContext, type WorldContext } from './context';
import { startBalancers, startFrontEdge } from './front';
import { startNode, type LocalNode, type NodeStores, type StartNodeOptions } from './node';
import type { RegionalRedis } from './regional-redis';
import {
  busOn,
  nodeStoresOf,
  startNamedRedis,
  startRegionRedis,
  startStores,
  type WorldStores,
} from './stores';
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
  const specs = options.regions.map((r) => (typeof r === 'string' ? { id: r } : r));
  const ctx = worldContext(options, teardown, options.home ?? specs[0]?.id ?? 'us-east');
  const jwtSecret = options.jwtSecret ?? randomBytes(24).toString('base64url');
  try {
    const stores = await startStores(ctx, specs);
    const nodes = new WorldNodes(ctx, stores, jwtSecret);
    await nodes.startRegions(specs, busOn(ctx, specs));
    const { regions } = nodes;
    if (options.balancers) await startBalancers(ctx, regions);
    if (regions.length > 0)
      ctx.say(
        `regions: ${regions.map((r) => `${r.id} (${r.nodes.length} nodes${r.balancer ? ` behind HAProxy ${r.url}` : ''})`).join(', ')}`,
      );
    const front = options.edge
      ? await startFrontEdge(ctx, regions, stores.globalRedis, jwtSecret)
      : undefined;
    return {
      home: ctx.home,
      jwtSecret,
      globalRedis: stores.globalRedis,
      ...(stores.postgres ? { postgres: stores.postgres } : {}),
      ...(stores.migrations ? { migrations: stores.migrations } : {}),
      regions,
      region: (id) => nodes.region(id),
      ...(stores.links ? { links: stores.links } : {}),
      ...(front ?? {}),
      wanMs: ctx.wanMs,
      reach: ctx.reach,
      startRedis: (name) => startNamedRedis(ctx, name),
      startNode: (region, id, extra) => nodes.startOne(region, id, extra),
      async addRegion(spec) {
        const full = typeof spec === 'string' ? { id: spec } : spec;
        stores.regional.set(full.id, await startRegionRedis(ctx, full));
        return (await nodes.startRegions([full], false))[0]!;
      },
      teardown,
      stop: (report) => teardown.stop(report),
      [Symbol.asyncDispose]: () => teardown.stop(),
    };
  } catch (err) {
    await teardown.stop();
    throw err;
  }
}

/** The nodes of a world, by region: how they are started, and stopped with the world. */
class WorldNodes {
  readonly regions: WorldRegion[] = [];

  constructor(
    private readonly ctx: WorldContext,
    private readonly stores: WorldStores,
    private readonly jwtSecret: string,
  ) {}

  region(id: string): WorldRegion {
    const found = this.regions.find((r) => r.id === id);
    if (!found)
      throw new Error(`no region ${id} in this world (${this.regions.map((r) => r.id).join(', ')})`);
    return found;
  }

  /** Starts the regions of `batch` at once (each region's nodes in order, or all at once). */
  async startRegions(batch: RegionSpec[], withBus: boolean): Promise<WorldRegion[]> {
    const started: WorldRegion[] = [];
    for (const spec of batch) {
      const stores = await nodeStoresOf(this.ctx, this.stores, spec, withBus);
      started.push({ id: spec.id, redis: this.stores.regional.get(spec.id)!, stores, nodes: [], url: '' });
    }
    this.regions.push(...started);
    const all: LocalNode[] = [];
    this.stopWithWorld(all);
    const nodeId = this.ctx.options.nodeId ?? ((r, n) => `${r}-${n}`);
    const startRegion = async (region: WorldRegion, spec: RegionSpec) => {
      const ids = Array.from({ length: spec.nodes ?? 1 }, (_, i) => nodeId(region.id, i + 1));
      const add = (node: LocalNode) => void (region.nodes.push(node), all.push(node));
      const launch = async (id: string) =>
        add(await this.launch(region, id, { settings: spec.settings ?? {} }));
      if (this.ctx.options.nodesAtOnce) await Promise.all(ids.map(launch));
      else for (const id of ids) await launch(id);
      region.url = region.nodes[0]?.url ?? '';
    };
    const results = await Promise.allSettled(started.map((r, i) => startRegion(r, batch[i]!)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return started;
  }

  /** One more node, stopped with the world; with `stores` of its own, `region` need not be the world's. */
  async startOne(regionId: string, id: string, extra: NodeExtras = {}): Promise<LocalNode> {
    const region = extra.stores ? { id: regionId, stores: extra.stores } : this.region(regionId);
    const node = await this.launch(region, id, extra);
    this.stopWithWorld([node]);
    return node;
  }

  private async launch(
    region: { id: string; stores: NodeStores },
    id: string,
    extra: NodeExtras,
  ): Promise<LocalNode> {
    const { options } = this.ctx;
    return startNode({
      region: region.id,
      id,
      jwtSecret: this.jwtSecret,
      stores: extra.stores ?? region.stores,
      settings: { ...options.settings, ...extra.settings },
      ...(extra.program ? { program: extra.program } : {}),
      nodeArgs: extra.nodeArgs ?? options.nodeArgs ?? [],
      ...(options.port ? { port: await options.port() } : {}),
      ...this.ctx.log(`node-${id}.log`),
      ...(options.readyTimeoutMs ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
      onLaunch: (proc) => options.onNodeLaunch?.(id, proc),
    });
  }

  /** Stops `nodes` (also those added to it later) with the world, all at once. */
  private stopWithWorld(nodes: LocalNode[]): void {
    const shutdown = this.ctx.options.nodeShutdown ?? { drain: 5_000 };
    this.ctx.teardown.defer(
      () =>
        `region nodes, ${shutdown === 'kill' ? 'killed' : 'drained'} in parallel (pids ${nodes.map((n) => n.pid).join(' ')})`,
      () => Promise.all(nodes.map((n) => (shutdown === 'kill' ? n.kill() : n.stop(shutdown.drain)))),
    );
  }
}
