import { Cluster, type Redis } from 'ioredis';
import { withDeadline } from '../deadline';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RedisClient } from './client';

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
export function watchSubscriptions(
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
