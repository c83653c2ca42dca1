import { startRedis } from '../processes/redis';
import { startRedisCluster } from '../processes/redis-cluster';

/** A region's Redis in the simulation: one `redis-server`, or a local Redis Cluster (`--redis-cluster`). */
export interface SimRegionalRedis {
  /** `REDIS_URL` of the region's nodes (`redis+cluster://...` for a cluster). */
  readonly url: string;
  /** A port that reaches it (a cluster: its first member, which is enough as a seed). */
  readonly port: number;
  readonly pid: number;
  readonly cluster: boolean;
  /** Every server process, for `.sim/state.json`. */
  readonly processes: { port: number; pid: number }[];
  stop(): Promise<void>;
}

export async function startRegionalRedis(options: {
  cluster: boolean;
  logFile: string;
}): Promise<SimRegionalRedis> {
  if (!options.cluster) {
    const redis = await startRedis({ logFile: options.logFile });
    return {
      url: redis.url,
      port: redis.port,
      pid: redis.pid,
      cluster: false,
      processes: [{ port: redis.port, pid: redis.pid }],
      stop: () => redis.stop(),
    };
  }
  const cluster = await startRedisCluster();
  const first = cluster.members[0]!;
  return {
    url: cluster.url,
    port: first.port,
    pid: first.pid,
    cluster: true,
    processes: cluster.members.map((m) => ({ port: m.port, pid: m.pid })),
    stop: () => cluster.stop(),
  };
}

/**
 * `BUS_PEERS` of `region` when the regions' Redis are clusters: every other region by its cluster URL.
 * A cluster client learns every member's address from the seed, so a WAN relay in front of one seed
 * would be bypassed anyway: with `--redis-cluster` the bus appends between regions have no simulated
 * WAN delay (the nodes' other paths keep theirs).
 */
export function clusterBusPeers(region: string, regional: ReadonlyMap<string, SimRegionalRedis>): string {
  return [...regional]
    .filter(([id]) => id !== region)
    .map(([id, redis]) => `${id}=${redis.url}`)
    .join(',');
}
