import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { withDeadline } from './deadline';
import type { Logger } from './log';
import type { RegionMetrics } from './metrics';

/**
 * A connection to one Redis server or to a Redis Cluster. Both share ioredis's command interface;
 * code that takes one must keep every script, MULTI and pipeline within one hash slot (the keyspace's
 * hash tags), which a single server does not check and a cluster refuses otherwise (CROSSSLOT).
 */
export type RedisClient = Redis | Cluster;

/** What `REDIS_URL` / `GLOBAL_REDIS_URL` name: one server, or a cluster by its seed nodes. */
export type RedisTarget =
  | { kind: 'server'; url: string }
  | {
      kind: 'cluster';
      tls: boolean;
      seeds: { host: string; port: number }[];
      username?: string;
      password?: string;
    };

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/;
const SEED = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * Parses a Redis URL: `redis://` / `rediss://` for one server, or
 * `redis+cluster://host1:port1,host2:port2` (`rediss+cluster://` for TLS, optional `user:password@`
 * before the seeds) for a Redis Cluster. Throws with the reason on anything else.
 */
export function parseRedisTarget(url: string): RedisTarget {
  const cluster = CLUSTER_URL.exec(url);
  if (cluster) {
    const [, scheme, auth, hosts] = cluster as unknown as [string, string, string | undefined, string];
    const seeds = hosts.split(',').map((seed) => {
      const match = SEED.exec(seed);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65_535) throw new Error(`seed "${seed}" is not host:port`);
      return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
    });
    const target: RedisTarget = { kind: 'cluster', tls: scheme === 'rediss', seeds };
    if (auth) {
      const colon = auth.indexOf(':');
      const username = decodeURIComponent(colon < 0 ? '' : auth.slice(0, colon));
      const password = decodeURIComponent(colon < 0 ? auth : auth.slice(colon + 1));
      if (username) target.username = username;
      if (password) target.password = password;
    }
    return target;
  }
  if (/\+cluster:/.test(url)) throw new Error('must be redis+cluster://host:port,host:port,...');
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || !parsed.hostname) {
    throw new Error('must be a redis:// or rediss:// URL, or redis+cluster://host:port,host:port');
  }
  return { kind: 'server', url };
}

/** Per-connection behaviour the callers choose; the same meaning on a server and on a cluster. */
export interface ConnectionOptions {
  /** Queue commands while (re)connecting instead of failing them at once. Default true. */
  enableOfflineQueue?: boolean;
  /** Attempts of one command across reconnects before it fails. */
  maxRetriesPerRequest?: number | null;
  /** A command without a reply after this long fails. */
  commandTimeout?: number;
  /** Use Redis 7 sharded pub/sub (SSUBSCRIBE); on a cluster one subscriber connection per master. */
  shardedSubscriber?: boolean;
  /**
   * On a cluster, fail a command at once when its master is unreachable or the cluster is down,
   * instead of retrying it every 200 ms until a replica took over: each retry goes its own way
   * (a random node, then MOVED), so retried commands complete out of order.
   */
  failFast?: boolean;
}

// Cap the back-off so recovery after an outage is quick.
const retryStrategy = (attempt: number) => Math.min(100 * attempt, 2_000);

/** Creates (without the logging of `connectRedis`) a client for `target`. */
export function createRedisClient(
  target: RedisTarget,
  name: string,
  options: ConnectionOptions = {},
): RedisClient {
  const { enableOfflineQueue, shardedSubscriber, failFast, ...perConnection } = options;
  if (target.kind === 'server') {
    return new Redis(target.url, {
      connectionName: name,
      retryStrategy,
      ...perConnection,
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    });
  }
  const clusterOptions: ClusterOptions = {
    clusterRetryStrategy: retryStrategy,
    // After a failover the new master is found from the MOVED replies and a refreshed slot map.
    slotsRefreshTimeout: 2_000,
    retryDelayOnFailover: failFast ? 0 : 200,
    retryDelayOnClusterDown: failFast ? 0 : 200,
    shardedSubscribers: shardedSubscriber ?? false,
    redisOptions: {
      connectionName: name,
      ...perConnection,
      ...(target.tls ? { tls: {} } : {}),
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
    },
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
  };
  return new Cluster(target.seeds, clusterOptions);
}

/**
 * A client for `url` (one server or a cluster) that reconnects forever, logs its state changes once,
 * and reports them in `rt_redis_up{client=name}`. ioredis resubscribes pub/sub channels by itself
 * after a reconnect (on a cluster, on the node that serves each channel now).
 */
export function connectRedis(
  url: string,
  name: string,
  deps: { log: Logger; metrics: RegionMetrics },
  options: ConnectionOptions = {},
): RedisClient {
  const client = createRedisClient(parseRedisTarget(url), name, options);
  const log = deps.log.child({ redis: name });
  let ready = false;
  deps.metrics.redisUp.set({ client: name }, 0);
  client.on('ready', () => {
    if (!ready) log.info('redis ready');
    ready = true;
    deps.metrics.redisUp.set({ client: name }, 1);
  });
  client.on('error', (err: Error) => {
    if (ready) log.warn({ err: err.message }, 'redis connection lost');
    ready = false;
    deps.metrics.redisUp.set({ client: name }, 0);
  });
  client.on('close', () => {
    if (ready) log.warn('redis connection closed');
    ready = false;
    deps.metrics.redisUp.set({ client: name }, 0);
  });
  return client;
}

/**
 * Another connection (or, on a cluster, another set of node connections) to what `client` talks to,
 * for a blocking read (XREADGROUP BLOCK), which holds its connection until it returns.
 */
export function duplicateClient(
  client: RedisClient,
  name: string,
  options: ConnectionOptions = {},
): RedisClient {
  const { enableOfflineQueue, shardedSubscriber: _sharded, failFast: _failFast, ...perConnection } = options;
  if (client instanceof Cluster) {
    return client.duplicate([], {
      redisOptions: { ...client.options.redisOptions, connectionName: name, ...perConnection },
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    });
  }
  return client.duplicate({
    connectionName: name,
    ...perConnection,
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
  });
}

export function isReady(client: RedisClient): boolean {
  return client.status === 'ready';
}

/** The node's Redis connections: regional commands, the adapter's pub/sub pair, and the global Redis. */
export interface RegionRedis {
  /** Regional commands (limits, presence, outbox): fail fast while Redis is down. */
  readonly command: RedisClient;
  readonly adapterPub: RedisClient;
  readonly adapterSub: RedisClient;
  /** The global Redis (bus, health): may be far away or down, so nothing waits for it. */
  readonly global: RedisClient;
  /** Whether the regional Redis is a cluster (the adapter then uses sharded pub/sub). */
  readonly regionalIsCluster: boolean;
  /** Whether every regional connection is ready (the node's critical dependency). */
  regionalReady(): boolean;
  /** Calls `listener` with the channel of every cross-node fan-out publish that failed. */
  onFanoutFailure(listener: (channel: string) => void): void;
  /**
   * Calls `listener` each time the adapter's subscriptions are back after a connection of the
   * subscriber was lost (a master failover, a slot move, a Redis restart): messages published on
   * the lost connection's channels meanwhile never reached this node.
   */
  onSubscriptionsRestored(listener: (lostAt: number) => void): void;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** A global Redis command without a reply after this long fails (the global Redis is a WAN trip away). */
export const GLOBAL_COMMAND_TIMEOUT_MS = 2_000;

/** Connects the node's Redis clients and waits until the regional ones are ready. */
export async function connectRegionRedis(
  urls: { regional: string; global: string },
  deps: { log: Logger; metrics: RegionMetrics },
): Promise<RegionRedis> {
  const command = connectRedis(urls.regional, 'regional', deps, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A command written just as the connection drops may otherwise wait for its reply forever.
    commandTimeout: 3_000,
  });
  const regionalIsCluster = parseRedisTarget(urls.regional).kind === 'cluster';
  // Fan-out fails fast and in order while a master is away; what it could not deliver is made good
  // by `resync` (regions/fanout/resync.ts), so retrying it here would only reorder it.
  const adapterPub = connectRedis(urls.regional, 'adapter-pub', deps, {
    enableOfflineQueue: false,
    failFast: true,
  });
  const adapterSub = connectRedis(urls.regional, 'adapter-sub', deps, {
    shardedSubscriber: regionalIsCluster,
  });
  const fanoutFailures: ((channel: string) => void)[] = [];
  guardAdapterPublishes(adapterPub, deps, (channel) => fanoutFailures.forEach((fn) => fn(channel)));
  const restoredListeners: ((lostAt: number) => void)[] = [];
  watchSubscriptions(adapterSub, deps, (lostAt) => restoredListeners.forEach((fn) => fn(lostAt)));
  const global = connectRedis(urls.global, 'global', deps, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // The control plane (health, presence mirror, revocations) only: no blocking commands on this
    // connection, so a hung global Redis costs a presence answer this long at most, never forever.
    commandTimeout: GLOBAL_COMMAND_TIMEOUT_MS,
  });
  const regional = [command, adapterPub, adapterSub];
  await Promise.all(regional.map(whenReady));
  return {
    command,
    adapterPub,
    adapterSub,
    global,
    regionalIsCluster,
    regionalReady: () => regional.every(isReady),
    onFanoutFailure: (listener) => void fanoutFailures.push(listener),
    onSubscriptionsRestored: (listener) => void restoredListeners.push(listener),
    close: async () => {
      await Promise.all([...regional, global].map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}

/**
 * The adapter publishes without awaiting (socket.io-redis-adapter), so a failed publish would be an
 * unhandled rejection. While the regional Redis is down, cross-node fan-out fails fast (offline queue
 * off), local members are still served, and each failure is counted and logged here.
 */
function guardAdapterPublishes(
  client: RedisClient,
  deps: { log: Logger; metrics: RegionMetrics },
  failed: (channel: string) => void,
): void {
  // PUBLISH for the classic adapter, SPUBLISH for the sharded one (on a cluster).
  for (const command of ['publish', 'spublish'] as const) {
    const send = client[command].bind(client) as (
      channel: string,
      message: string | Buffer,
    ) => Promise<number>;
    (client as unknown as Record<typeof command, typeof send>)[command] = (channel, message) =>
      send(channel, message).catch((err: Error) => {
        deps.metrics.internalErrors.inc({ component: 'adapter-publish' });
        deps.log.warn({ err: err.message }, 'cross-node fan-out failed: regional Redis unavailable');
        failed(channel);
        return 0;
      });
  }
}

function whenReady(client: RedisClient): Promise<void> {
  return new Promise((resolve) => {
    if (isReady(client)) resolve();
    else client.once('ready', () => resolve());
  });
}

/** The subscriber connections of a Cluster with `shardedSubscribers` (ioredis 5.9 internals). */
interface ShardedSubscriberGroup {
  shardedSubscribers?: {
    shardedSubscribers?: Map<string, { isStarted(): boolean; getInstance(): Redis | null }>;
  };
}

/** How long a subscriber may take to answer the PING that confirms its re-subscriptions. */
const RESUBSCRIBE_CONFIRM_MS = 3_000;

/**
 * Reports when the adapter's subscriber is whole again after it lost a connection. On one server:
 * the first `ready` after a `close` (ioredis re-subscribes before it emits `ready`). On a cluster
 * with sharded subscribers: a `-node` (a subscriber connection ended) opens the gap; it closes on
 * the first `subscribersReady` (ioredis re-created the subscribers from a refreshed slot map and
 * re-sent every SSUBSCRIBE) at which every subscriber is connected. Either way a PING on each
 * subscriber connection, answered after the SSUBSCRIBEs sent before it, confirms them first.
 */
function watchSubscriptions(
  sub: RedisClient,
  deps: { log: Logger; metrics: RegionMetrics },
  restored: (lostAt: number) => void,
): void {
  /** When the first connection of the current gap was lost (undefined: no gap). */
  let lostAt: number | undefined;
  const confirm = async (connections: (Redis | null)[]) => {
    try {
      await Promise.all(connections.map((c) => c && withDeadline(c.ping(), RESUBSCRIBE_CONFIRM_MS)));
    } catch {
      return; // a later reconnect or reset tries again
    }
    if (lostAt === undefined) return;
    const since = lostAt;
    lostAt = undefined;
    deps.log.info(
      { lostMs: Date.now() - since },
      'adapter subscriptions restored: members of this node rejoin their rooms',
    );
    restored(since);
  };
  if (sub instanceof Cluster) {
    sub.on('-node', () => {
      lostAt ??= Date.now();
    });
    sub.on('subscribersReady', () => {
      if (lostAt === undefined) return;
      const group = (sub as unknown as ShardedSubscriberGroup).shardedSubscribers?.shardedSubscribers;
      const subscribers = group ? [...group.values()] : [];
      if (!subscribers.every((s) => s.isStarted())) return;
      void confirm(subscribers.map((s) => s.getInstance()));
    });
    return;
  }
  sub.on('close', () => {
    lostAt ??= Date.now();
  });
  sub.on('ready', () => {
    if (lostAt !== undefined) void confirm([sub]);
  });
}
