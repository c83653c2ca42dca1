import type { RegionConfig } from '../config';
import type { Logger } from '../log';
import type { RegionNode } from '../node';
import { GlobalPresence } from '../presence';
import { connectRedis, isReady } from '../redis';
import { FailureStreak } from './failures';
import { markNewUnderLease } from './fenced-dedup';
import { Forwarder } from './forwarder';
import { busKeys, forwardGroup } from './keys';
import { RegionLease } from './lease';
import { BusMetrics } from './metrics';
import { RedisStreamsBus } from './redis-bus';
import { ShardAssignment } from './shard-assignment';
import { ShardConsumer } from './shard-consumer';

export * from './bus';
export { MemoryBus } from './memory-bus';
export { RedisStreamsBus, inboundStreamKey } from './redis-bus';
export { busKeys, forwardGroup, inboundGroup, outboxGroups } from './keys';
export { RegionLease } from './lease';
export { BusMetrics } from './metrics';
export { fairShare } from './shard-assignment';

/** Envelopes moved or handled per round trip. */
const BATCH_SIZE = 256;
/**
 * Outbox batches a forwarder keeps appending while earlier appends await their reply. At a steady
 * rate each read of the outbox yields a small batch, so this covers a round trip to a far peer's
 * Redis with room to spare; beyond it, batches simply grow.
 */
const FORWARDER_IN_FLIGHT = 16;
/** Waiting shard reads kept outstanding per shard consumer (see `ReadAhead`). */
const READ_AHEAD = 8;
/**
 * How often each shard consumer trims its shard below what the region acknowledged: a steady stream
 * leaves about this long of entries in it.
 */
const INBOUND_TRIM_MS = 1_000;
/** How often each shard consumer checks its group's standing (late, fallen behind). */
const STANDING_CHECK_MS = 5_000;

/** What `attachGlobalBus` started, for tests and embedding. */
export interface AttachedGlobalBus {
  /** This region's inbound shards (in its own Redis). */
  readonly inbound: RedisStreamsBus;
  readonly metrics: BusMetrics;
  /** One per peer region. */
  readonly forwarders: ReadonlyMap<string, Forwarder>;
  readonly shards: ShardAssignment;
  readonly presence: GlobalPresence;
}

/**
 * Joins a region node to the other regions: one forwarder per peer region (outbox -> that region's
 * inbound shards in its Redis, one node per region and peer), the shard consumers (this region's
 * inbound shards -> rooms of this region, dedup by envelope id, no echo), presence across regions
 * (global Redis), bus metrics, and the non-critical readiness checks `globalBus` and `peer:{region}`.
 * An unreachable peer delays delivery to that peer only; local delivery goes on. Everything stops on
 * node close.
 */
export function attachGlobalBus(node: RegionNode, config: RegionConfig, log: Logger): AttachedGlobalBus {
  const busLog = log.child({ component: 'bus' });
  const { region, nodeId } = config;
  const timing = config.bus;
  const deps = { log, metrics: node.metrics };
  const counter = node.metrics.internalErrors;
  const streak = (component: string, componentLog: Logger) =>
    new FailureStreak(component, counter, componentLog);
  const peers = timing.peers.map((peer) => peer.region);
  const metrics = new BusMetrics(node.metrics.registry, peers, (peer) =>
    node.outbox.depth(forwardGroup(peer)),
  );
  const retention = { maxLen: timing.maxLen, maxAgeMs: timing.maxAgeMs };
  const inbound = new RedisStreamsBus(node.redis, { shardCount: timing.shards, retention });
  const retryMs = Math.min(500, Math.floor(timing.leaseMs / 3));
  const forwarderBlockMs = Math.max(1, Math.min(timing.blockMs, Math.floor(timing.leaseMs / 3)));

  const connections: ReturnType<typeof connectRedis>[] = [];
  const forwarders = new Map<string, Forwarder>();
  for (const peer of timing.peers) {
    const peerLog = busLog.child({ role: 'forwarder', peer: peer.region });
    // Fails fast while the peer is unreachable; the deadline covers a peer that hangs.
    const peerRedis = connectRedis(peer.url, `peer:${peer.region}`, deps, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 5_000,
    });
    const outboxReader = connectRedis(config.redisUrl, `outbox-reader:${peer.region}`, deps, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: forwarderBlockMs + 3_000,
    });
    connections.push(peerRedis, outboxReader);
    forwarders.set(
      peer.region,
      new Forwarder({
        nodeId,
        peer: peer.region,
        group: forwardGroup(peer.region),
        redis: node.redis,
        reader: outboxReader,
        bus: new RedisStreamsBus(peerRedis, { shardCount: timing.shards, retention }),
        lease: new RegionLease(node.redis, busKeys.forwarderLease(peer.region), nodeId, timing.leaseMs),
        metrics,
        log: peerLog,
        failures: streak(`bus:forwarder:${peer.region}`, peerLog),
        batchSize: BATCH_SIZE,
        inFlight: FORWARDER_IN_FLIGHT,
        blockMs: forwarderBlockMs,
        retryMs,
        claimIdleMs: timing.claimIdleMs,
      }),
    );
    node.addReadinessCheck(`peer:${peer.region}`, () => (isReady(peerRedis) ? 'up' : 'down'));
  }

  const consumerLog = busLog.child({ role: 'consumer' });
  const shards = new ShardAssignment({
    nodeId,
    redis: node.redis,
    shardCount: timing.shards,
    leaseMs: timing.leaseMs,
    metrics,
    log: busLog,
    failures: streak('bus:assignment', busLog),
    consume: (shard, lease) =>
      new ShardConsumer(shard, {
        region,
        nodeId,
        bus: inbound,
        markNew: (ids) => markNewUnderLease(node.redis, lease, ids, timing.dedupWindowS),
        delivery: node.delivery,
        metrics,
        log: consumerLog,
        failures: {
          consume: streak('bus:consumer', consumerLog),
          ack: streak('bus:ack', consumerLog),
          housekeeping: streak('bus:inbound-trim', consumerLog),
        },
        batchSize: BATCH_SIZE,
        blockMs: timing.blockMs,
        readAhead: READ_AHEAD,
        retryMs,
        claimIdleMs: timing.claimIdleMs,
        trimIntervalMs: INBOUND_TRIM_MS,
        standingIntervalMs: STANDING_CHECK_MS,
      }),
  });

  const presenceSubscriber = connectRedis(config.globalRedisUrl, 'presence-events', deps);
  connections.push(presenceSubscriber);
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

  for (const forwarder of forwarders.values()) forwarder.start();
  shards.start();
  void presence.start();
  node.addReadinessCheck('globalBus', () => (isReady(node.globalRedis) ? 'up' : 'down'));
  node.onClose(async () => {
    presence.stop();
    await shards.stop();
    await Promise.all([...forwarders.values()].map((forwarder) => forwarder.stop()));
    await inbound.close();
    for (const client of connections) await client.quit().catch(() => client.disconnect());
  });
  return { inbound, metrics, forwarders, shards, presence };
}
