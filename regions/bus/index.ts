import type { RegionConfig } from '../config';
import type { Logger } from '../log';
import type { RegionNode } from '../node';
import { GlobalPresence } from '../presence';
import { connectRedis, isReady } from '../redis';
import { Forwarder } from './forwarder';
import { RegionLease } from './lease';
import { BusMetrics } from './metrics';
import { RedisStreamsBus } from './redis-bus';
import { ShardAssignment } from './shard-assignment';
import { ShardConsumer } from './shard-consumer';

export * from './bus';
export { MemoryBus } from './memory-bus';
export { RedisStreamsBus, busStreamKey } from './redis-bus';
export { RegionLease } from './lease';
export { BusMetrics } from './metrics';
export { fairShare } from './shard-assignment';

/** Envelopes moved or handled per round trip. */
const BATCH_SIZE = 256;
/**
 * Outbox batches the forwarder keeps appending while earlier appends await their reply. At a
 * steady rate each read of the outbox yields a small batch, so this covers a round trip to a far
 * global Redis with room to spare; beyond it, batches simply grow.
 */
const FORWARDER_IN_FLIGHT = 16;
/** Waiting shard reads kept outstanding per shard consumer (see `ReadAhead`). */
const READ_AHEAD = 8;
/** How often the forwarder trims, and each shard consumer checks its standing. */
const HOUSEKEEPING_MS = 5_000;

/** What `attachGlobalBus` started, for tests and embedding. */
export interface AttachedGlobalBus {
  readonly bus: RedisStreamsBus;
  readonly metrics: BusMetrics;
  readonly forwarder: Forwarder;
  readonly shards: ShardAssignment;
  readonly presence: GlobalPresence;
}

/**
 * Joins a region node to the other regions: the forwarder (outbox → global bus, one node per region),
 * the shard consumers (global bus → rooms of this region, dedup by envelope id, no echo), presence
 * across regions, bus metrics, and the non-critical readiness check `globalBus`. A global Redis
 * outage delays cross-region delivery; local delivery goes on. Everything stops on node close.
 */
export function attachGlobalBus(node: RegionNode, config: RegionConfig, log: Logger): AttachedGlobalBus {
  const busLog = log.child({ component: 'bus' });
  const { region, nodeId } = config;
  const timing = config.bus;
  const deps = { log, metrics: node.metrics };
  const metrics = new BusMetrics(node.metrics.registry, () => node.outbox.depth('forwarder'));
  const bus = new RedisStreamsBus(node.globalRedis, {
    shardCount: timing.shards,
    retention: { maxLen: timing.maxLen, maxAgeMs: timing.maxAgeMs },
  });
  const retryMs = Math.min(500, Math.floor(timing.leaseMs / 3));

  const outboxReader = connectRedis(config.redisUrl, 'bus-outbox-reader', deps, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  const forwarder = new Forwarder({
    nodeId,
    redis: node.redis,
    reader: outboxReader,
    outbox: node.outbox,
    bus,
    lease: new RegionLease(node.redis, 'rt:bus:lease:forwarder', nodeId, timing.leaseMs),
    metrics,
    log: busLog.child({ role: 'forwarder' }),
    batchSize: BATCH_SIZE,
    inFlight: FORWARDER_IN_FLIGHT,
    blockMs: Math.max(1, Math.min(timing.blockMs, Math.floor(timing.leaseMs / 3))),
    retryMs,
    trimIntervalMs: HOUSEKEEPING_MS,
  });

  const shards = new ShardAssignment({
    nodeId,
    redis: node.redis,
    shardCount: timing.shards,
    leaseMs: timing.leaseMs,
    metrics,
    log: busLog,
    consume: (shard, lease) =>
      new ShardConsumer(shard, {
        lease,
        region,
        nodeId,
        bus,
        redis: node.redis,
        delivery: node.delivery,
        metrics,
        log: busLog.child({ role: 'consumer' }),
        batchSize: BATCH_SIZE,
        blockMs: timing.blockMs,
        readAhead: READ_AHEAD,
        retryMs,
        dedupWindowS: timing.dedupWindowS,
        claimIdleMs: timing.claimIdleMs,
        standingIntervalMs: HOUSEKEEPING_MS,
      }),
  });

  const presenceSubscriber = connectRedis(config.globalRedisUrl, 'presence-events', deps);
  const presence = new GlobalPresence({
    region,
    globalRedis: node.globalRedis,
    subscriber: presenceSubscriber,
    presence: node.services.presence,
    io: node.io,
    ttlMs: timing.presenceMirrorTtlMs,
    log: log.child({ component: 'presence' }),
    metrics: node.metrics,
  });

  forwarder.start();
  shards.start();
  void presence.start();
  node.addReadinessCheck('globalBus', () => (isReady(node.globalRedis) ? 'up' : 'down'));
  node.onClose(async () => {
    presence.stop();
    await shards.stop();
    await forwarder.stop();
    await bus.close();
    for (const client of [outboxReader, presenceSubscriber])
      await client.quit().catch(() => client.disconnect());
  });
  return { bus, metrics, forwarder, shards, presence };
}
