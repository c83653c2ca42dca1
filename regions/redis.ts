import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './log';
import type { RegionMetrics } from './metrics';

/**
 * An ioredis client that reconnects forever, logs its state changes once, and reports them in
 * `rt_redis_up{client=name}`. ioredis resubscribes pub/sub channels by itself after a reconnect.
 */
export function connectRedis(
  url: string,
  name: string,
  deps: { log: Logger; metrics: RegionMetrics },
  options: RedisOptions = {},
): Redis {
  const client = new Redis(url, {
    connectionName: name,
    // Cap the back-off so recovery after an outage is quick.
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    ...options,
  });
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

export function isReady(client: Redis): boolean {
  return client.status === 'ready';
}

/** The node's Redis connections: regional commands, the adapter's pub/sub pair, and the global Redis. */
export interface RegionRedis {
  /** Regional commands (limits, presence, outbox): fail fast while Redis is down. */
  readonly command: Redis;
  readonly adapterPub: Redis;
  readonly adapterSub: Redis;
  /** The global Redis (bus, health): may be far away or down, so nothing waits for it. */
  readonly global: Redis;
  /** Whether every regional connection is ready (the node's critical dependency). */
  regionalReady(): boolean;
  /** Closes every connection. */
  close(): Promise<void>;
}

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
  const adapterPub = connectRedis(urls.regional, 'adapter-pub', deps, { enableOfflineQueue: false });
  const adapterSub = connectRedis(urls.regional, 'adapter-sub', deps);
  guardAdapterPublishes(adapterPub, deps);
  const global = connectRedis(urls.global, 'global', deps, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  const regional = [command, adapterPub, adapterSub];
  await Promise.all(regional.map(whenReady));
  return {
    command,
    adapterPub,
    adapterSub,
    global,
    regionalReady: () => regional.every(isReady),
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
function guardAdapterPublishes(client: Redis, deps: { log: Logger; metrics: RegionMetrics }): void {
  const publish = client.publish.bind(client) as (
    channel: string,
    message: string | Buffer,
  ) => Promise<number>;
  (client as unknown as { publish: typeof publish }).publish = (channel, message) =>
    publish(channel, message).catch((err: Error) => {
      deps.metrics.internalErrors.inc({ component: 'adapter-publish' });
      deps.log.warn({ err: err.message }, 'cross-node fan-out failed: regional Redis unavailable');
      return 0;
    });
}

function whenReady(client: Redis): Promise<void> {
  return new Promise((resolve) => {
    if (isReady(client)) resolve();
    else client.once('ready', () => resolve());
  });
}
