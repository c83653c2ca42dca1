/** The shapes of a local world: what it is asked for and what it hands back. */
import type { MigrateResult } from '../../infra/migrate';
import type { ServerProcess } from '../processes/child';
import type { EdgeRuntime } from '../processes/edge-runtime';
import type { RegionBalancer } from '../processes/haproxy';
import type { LocalPostgresCluster } from '../processes/postgres';
import type { LocalRedis } from '../processes/redis';
import type { UpstashRestServer } from '../processes/upstash-rest';
import type { PeerLinks } from './bus-peers';
import type { LocalNode, NodeStores, StartNodeOptions } from './node';
import type { RegionalRedis } from './regional-redis';
import type { Teardown } from './teardown';

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
