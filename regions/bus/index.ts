import type { RegionConfig } from '../config';
import type { Logger } from '../log';
import type { Component, ReadinessCheck } from '../lifecycle';
import type { RegionMetrics } from '../metrics';
import { outboxStreams } from '../outbox';
import { GlobalPresence, type PresenceService } from '../presence';
import type { RegionIo, RoomDelivery } from '../publish';
import { connectRedis, isReady, type RedisClient } from '../redis';
import { FailureStreak } from '../failure-streak';
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

/** What the node gives the bus. */
export interface GlobalBusDeps {
  config: RegionConfig;
  log: Logger;
  metrics: RegionMetrics;
  /** The regional Redis command client (this region's inbound shards, leases, dedup). */
  redis: RedisClient;
  /** The global Redis command client (presence across regions). */
  globalRedis: RedisClient;
  /** Where envelopes from other regions are emitted, region-wide. */
  delivery: RoomDelivery;
  io: RegionIo;
  /** This region's presence, mirrored to and completed from the other regions. */
  presence: PresenceService;
  /** Outbox entries the group has not handled yet (`rt_bus_backlog{peer}`). */
  outboxDepth(group: string): Promise<number>;
  /** Live nodes of the region (the node registry): inbound shards are split among them. */
  liveNodes(): Promise<number>;
}

/** The bus as one node runs it: a component, and its parts for tests and embedding. */
export interface GlobalBus extends Component {
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
 * An unreachable peer delays delivery to that peer only; local delivery goes on.
 */
export function createGlobalBus(deps: GlobalBusDeps): GlobalBus {
  const { config, log } = deps;
  const busLog = log.child({ component: 'bus' });
  const { region, nodeId } = config;
  const timing = config.bus;
  const connectionDeps = { log, metrics: deps.metrics };
  const counter = deps.metrics.internalErrors;
  const streak = (component: string, componentLog: Logger) =>
    new FailureStreak(component, counter, componentLog);
  const peers = timing.peers.map((peer) => peer.region);
  const metrics = new BusMetrics(deps.metrics.registry, peers, (peer) =>
    deps.outboxDepth(forwardGroup(peer)),
  );
  const retention = { maxLen: timing.maxLen, maxAgeMs: timing.maxAgeMs };
  const inbound = new RedisStreamsBus(deps.redis, { shardCount: timing.shards, retention });
  const retryMs = Math.min(500, Math.floor(timing.leaseMs / 3));
  const forwarderBlockMs = Math.max(1, Math.min(timing.blockMs, Math.floor(timing.leaseMs / 3)));

  const connections: ReturnType<typeof connectRedis>[] = [];
  const checks: ReadinessCheck[] = [
    { name: 'globalBus', state: () => (isReady(deps.globalRedis) ? 'up' : 'down') },
  ];
  const forwarders = new Map<string, Forwarder>();
  for (const peer of timing.peers) {
    const peerLog = busLog.child({ role: 'forwarder', peer: peer.region });
    // Fails fast while the peer is unreachable; the deadline covers a peer that hangs.
    const peerRedis = connectRedis(peer.url, `peer:${peer.region}`, connectionDeps, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 5_000,
    });
    const readers = outboxStreams(config).map((stream, i) => ({
      stream,
      connection: connectRedis(
        config.redisUrl,
        i === 0 ? `outbox-reader:${peer.region}` : `outbox-reader:${peer.region}:${i}`,
        connectionDeps,
        { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: forwarderBlockMs + 3_000 },
      ),
    }));
    connections.push(peerRedis, ...readers.map((r) => r.connection));
    forwarders.set(
      peer.region,
      new Forwarder({
        nodeId,
        peer: peer.region,
        group: forwardGroup(peer.region),
        redis: deps.redis,
        readers,
        bus: new RedisStreamsBus(peerRedis, { shardCount: timing.shards, retention }),
        lease: new RegionLease(deps.redis, busKeys.forwarderLease(peer.region), nodeId, timing.leaseMs),
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
    checks.push({ name: `peer:${peer.region}`, state: () => (isReady(peerRedis) ? 'up' : 'down') });
  }

  const consumerLog = busLog.child({ role: 'consumer' });
  const shards = new ShardAssignment({
    nodeId,
    redis: deps.redis,
    liveNodes: deps.liveNodes,
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
        markNew: (ids) => markNewUnderLease(deps.redis, lease, ids, timing.dedupWindowS),
        delivery: deps.delivery,
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

  const presenceSubscriber = connectRedis(config.globalRedisUrl, 'presence-events', connectionDeps);
  connections.push(presenceSubscriber);
  const presence = new GlobalPresence({
    region,
    globalRedis: deps.globalRedis,
    subscriber: presenceSubscriber,
    presence: deps.presence,
    io: deps.io,
    ttlMs: timing.presenceMirrorTtlMs,
    log: log.child({ component: 'presence' }),
    metrics: deps.metrics,
  });

  return {
    name: 'global-bus',
    checks,
    inbound,
    metrics,
    forwarders,
    shards,
    presence,
    start() {
      for (const forwarder of forwarders.values()) forwarder.start();
      shards.start();
      void presence.start();
    },
    async stop() {
      presence.stop();
      await shards.stop();
      await Promise.all([...forwarders.values()].map((forwarder) => forwarder.stop()));
      await inbound.close();
      for (const client of connections) await client.quit().catch(() => client.disconnect());
    },
  };
}
