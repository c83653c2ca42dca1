import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import { parseRedisTarget, type RedisTarget } from './target';

/**
 * A connection to one Redis server or to a Redis Cluster. Both share ioredis's command interface;
 * code that takes one must keep every script, MULTI and pipeline within one hash slot (the keyspace's
 * hash tags), which a single server does not check and a cluster refuses otherwise (CROSSSLOT).
 */
export type RedisClient = Redis | Cluster;

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

/** Resolves once `client` is ready (at once when it already is). */
export function whenReady(client: RedisClient): Promise<void> {
  return new Promise((resolve) => {
    if (isReady(client)) resolve();
    else client.once('ready', () => resolve());
  });
}
