import { startRedis, type LocalRedis } from '../processes/redis';
import { startRedisCluster, type LocalRedisCluster } from '../processes/redis-cluster';

/** A region's Redis in a local world: one `redis-server`, or a local Redis Cluster. */
export interface RegionalRedis {
  /** `REDIS_URL` of the region's nodes (`redis+cluster://...` for a cluster). */
  readonly url: string;
  /** A port that reaches it (a cluster: its first member, which is enough as a seed). */
  readonly port: number;
  readonly pid: number;
  /** The single server, when it is one (tests stop, kill and restart it). */
  readonly server?: LocalRedis;
  /** The cluster, when it is one. */
  readonly cluster?: LocalRedisCluster;
  /** Every server process, for `.sim/state.json`. */
  readonly processes: { port: number; pid: number }[];
  stop(): Promise<void>;
}

export async function startRegionalRedis(options: {
  cluster: boolean;
  logFile?: string;
}): Promise<RegionalRedis> {
  if (!options.cluster) {
    const server = await startRedis(options.logFile ? { logFile: options.logFile } : {});
    return {
      url: server.url,
      port: server.port,
      get pid() {
        return server.pid;
      },
      server,
      get processes() {
        return [{ port: server.port, pid: server.pid }];
      },
      stop: () => server.stop(),
    };
  }
  const cluster = await startRedisCluster();
  const first = cluster.members[0]!;
  return {
    url: cluster.url,
    port: first.port,
    pid: first.pid,
    cluster,
    processes: cluster.members.map((m) => ({ port: m.port, pid: m.pid })),
    stop: () => cluster.stop(),
  };
}

/**
 * `BUS_PEERS` of `region` when the regions' Redis are clusters: every other region by its cluster URL.
 * A cluster client learns every member's address from the seed, so a WAN relay in front of one seed
 * would be bypassed anyway: with Redis Cluster the bus appends between regions have no simulated
 * WAN delay (the nodes' other paths keep theirs).
 */
export function clusterBusPeers(region: string, regional: ReadonlyMap<string, { url: string }>): string {
  return [...regional]
    .filter(([id]) => id !== region)
    .map(([id, redis]) => `${id}=${redis.url}`)
    .join(',');
}

/**
 * `BUS_PEERS` of a region on one server: each peer through its WAN link (`linkPort`), except a peer on
 * a cluster, which is reached directly for the same reason as in `clusterBusPeers`.
 */
export function linkedBusPeers(
  region: string,
  regional: ReadonlyMap<string, RegionalRedis>,
  linkPort: (to: string) => number,
): string {
  return [...regional]
    .filter(([id]) => id !== region)
    .map(([id, redis]) => (redis.cluster ? `${id}=${redis.url}` : `${id}=redis://127.0.0.1:${linkPort(id)}`))
    .join(',');
}
