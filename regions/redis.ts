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
