import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import { guardAdapterPublishes } from './adapter-publish-guard';
import { connectRedis, isReady, whenReady, type RedisClient } from './client';
import { watchSubscriptions } from './subscription-watch';
import { parseRedisTarget } from './target';

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
