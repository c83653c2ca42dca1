import type { RegionConfig } from '../config';
import type { Logger } from '../log';
import type { Component, ReadinessCheck } from '../lifecycle';
import type { RegionMetrics } from '../metrics';
import { outboxStreams } from '../outbox';
import { GlobalPresence, type PresenceService } from '../presence';
import type { RegionIo, RoomDelivery } from '../publish';
import { connectRedis, isReady, parseRedisTarget, type RedisClient } from '../redis';
import { keys } from '../keyspace';
import { claimRemoteIds } from './remote-ids';
import { FailureStreak } from '../failure-streak';
import { markNewUnderLease } from './fenced-dedup';
import { Forwarder } from './forwarder';
import { busKeys, forwardGroup, inboundGroup } from './keys';
import { RegionLease } from './lease';
import { BusMetrics } from './metrics';
import type { BusRetention } from './bus';
import { RedisStreamsBus, inboundStreamKey } from './redis-bus';
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
/** Waiting shard reads kept outstanding per shard consumer (see `ReadAhead` in inbound-shards.ts). */
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

/** What the bus's parts share: the node's deps, the bus's own log and metrics, its timing. */
interface BusContext {
  deps: GlobalBusDeps;
  log: Logger;
  metrics: BusMetrics;
  retention: BusRetention;
  /** Pause after a failed round before the next (a third of the lease, at most 500 ms). */
  retryMs: number;
  /** A failure streak of `component`, counted in `rt_internal_errors_total` and logged once. */
  streak(component: string, componentLog: Logger): FailureStreak;
}

/**
 * Joins a region node to the other regions: one forwarder per peer region (outbox -> that region's
 * inbound shards in its Redis, one node per region and peer), the shard consumers (this region's
 * inbound shards -> rooms of this region, dedup by envelope id, no echo), presence across regions
 * (global Redis), bus metrics, and the non-critical readiness checks `globalBus` and `peer:{region}`.
 * An unreachable peer delays delivery to that peer only; local delivery goes on.
 */
export function createGlobalBus(deps: GlobalBusDeps): GlobalBus {
  const timing = deps.config.bus;
  const counter = deps.metrics.internalErrors;
  const ctx: BusContext = {
    deps,
    log: deps.log.child({ component: 'bus' }),
    metrics: new BusMetrics(
      deps.metrics.registry,
      timing.peers.map((peer) => peer.region),
      (peer) => deps.outboxDepth(forwardGroup(peer)),
    ),
    retention: { maxLen: timing.maxLen, maxAgeMs: timing.maxAgeMs },
    retryMs: Math.min(500, Math.floor(timing.leaseMs / 3)),
    streak: (component, componentLog) => new FailureStreak(component, counter, componentLog),
  };
  const inbound = new RedisStreamsBus(deps.redis, {
    shardCount: timing.shards,
    retention: ctx.retention,
  });
  const checks: ReadinessCheck[] = [
    { name: 'globalBus', state: () => (isReady(deps.globalRedis) ? 'up' : 'down') },
  ];
  const connections: RedisClient[] = [];
  const forwarders = new Map<string, Forwarder>();
  for (const peer of timing.peers) {
    const link = createPeerForwarder(ctx, peer);
    forwarders.set(peer.region, link.forwarder);
    connections.push(...link.connections);
    checks.push(link.check);
  }
  const shards = createShardAssignment(ctx, inbound);
  const mirror = createPresenceMirror(deps);
  connections.push(mirror.subscriber);
  const { presence } = mirror;

  return {
    name: 'global-bus',
    checks,
    inbound,
    metrics: ctx.metrics,
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

/**
 * The forwarder to one peer region, with its two connections: the peer's Redis (fails fast while
 * the peer is unreachable; the deadline covers a peer that hangs) and a reader of this region's
 * outbox (its blocking read holds a connection), and the readiness check `peer:{region}`.
 */
function createPeerForwarder(
  ctx: BusContext,
  peer: RegionConfig['bus']['peers'][number],
): { forwarder: Forwarder; connections: RedisClient[]; check: ReadinessCheck } {
  const { config, redis } = ctx.deps;
  const { nodeId } = config;
  const timing = config.bus;
  const connectionDeps = { log: ctx.deps.log, metrics: ctx.deps.metrics };
  const blockMs = Math.max(1, Math.min(timing.blockMs, Math.floor(timing.leaseMs / 3)));
  const peerLog = ctx.log.child({ role: 'forwarder', peer: peer.region });
  const peerRedis = connectRedis(peer.url, `peer:${peer.region}`, connectionDeps, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 5_000,
  });
  // One reader connection per outbox stream (a Redis Cluster's publish groups: one slot each).
  const readers = outboxStreams(config).map((stream, i) => ({
    stream,
    connection: connectRedis(
      config.redisUrl,
      i === 0 ? `outbox-reader:${peer.region}` : `outbox-reader:${peer.region}:${i}`,
      connectionDeps,
      { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: blockMs + 3_000 },
    ),
  }));
  const forwarder = new Forwarder({
    nodeId,
    peer: peer.region,
    group: forwardGroup(peer.region),
    redis,
    readers,
    bus: new RedisStreamsBus(peerRedis, { shardCount: timing.shards, retention: ctx.retention }),
    lease: new RegionLease(redis, busKeys.forwarderLease(peer.region), nodeId, timing.leaseMs),
    metrics: ctx.metrics,
    log: peerLog,
    failures: ctx.streak(`bus:forwarder:${peer.region}`, peerLog),
    batchSize: BATCH_SIZE,
    inFlight: FORWARDER_IN_FLIGHT,
    blockMs,
    retryMs: ctx.retryMs,
    claimIdleMs: timing.claimIdleMs,
  });
  return {
    forwarder,
    connections: [peerRedis, ...readers.map((r) => r.connection)],
    check: { name: `peer:${peer.region}`, state: () => (isReady(peerRedis) ? 'up' : 'down') },
  };
}

function isClusterRegion(config: RegionConfig): boolean {
  return parseRedisTarget(config.redisUrl).kind === 'cluster';
}

/**
 * The dedup marks of a batch, under the shard's lease. On one Redis server the shard's stream is
 * beside the marks, so the same script acknowledges the batch's entries. On a Redis Cluster the
 * marks live in the shard's publish group (`{p<shard>}`, beside its lease: one script, one slot,
 * which the shard's stream is not in, so the worker acknowledges after the emit), and the ids are
 * also marked in the region's id claims, in parallel, so the publish log refuses them in every group.
 */
function dedupMarks(ctx: BusContext, log: Logger) {
  const { config, redis } = ctx.deps;
  const windowS = config.bus.dedupWindowS;
  const group = inboundGroup(config.region);
  if (!isClusterRegion(config))
    return async (shard: number, lease: RegionLease, ids: readonly string[], entries: readonly string[]) => {
      const ack = { stream: inboundStreamKey(shard), group, ids: entries };
      const fresh = await markNewUnderLease(redis, lease, ids, windowS, busKeys.seen, ack);
      return { fresh, acknowledged: entries };
    };
  const failures = ctx.streak('bus:remote-ids', log);
  return async (shard: number, lease: RegionLease, ids: readonly string[]) => {
    const claims = claimRemoteIds(redis, ids, windowS);
    const fresh = await markNewUnderLease(redis, lease, ids, windowS, (id) => keys.groupSeen(shard, id));
    const failed = await claims;
    if (failed > 0)
      failures.failed(
        new Error(`${failed} of ${ids.length} remote id claims failed`),
        'remote ids not claimed',
      );
    else failures.succeeded();
    return { fresh, acknowledged: [] };
  };
}

/**
 * This region's inbound shards split among its live nodes: each shard this node holds the lease of
 * gets a consumer that dedups by envelope id under that lease and delivers region-wide.
 */
function createShardAssignment(ctx: BusContext, inbound: RedisStreamsBus): ShardAssignment {
  const { config, redis } = ctx.deps;
  const { region, nodeId } = config;
  const timing = config.bus;
  const consumerLog = ctx.log.child({ role: 'consumer' });
  const markNew = dedupMarks(ctx, consumerLog);
  return new ShardAssignment({
    nodeId,
    redis,
    liveNodes: ctx.deps.liveNodes,
    shardCount: timing.shards,
    ...(isClusterRegion(config) ? { leaseKey: keys.groupShardLease } : {}),
    leaseMs: timing.leaseMs,
    metrics: ctx.metrics,
    log: ctx.log,
    failures: ctx.streak('bus:assignment', ctx.log),
    consume: (shard, lease) =>
      new ShardConsumer(shard, {
        region,
        nodeId,
        bus: inbound,
        markNew: (ids, entries) => markNew(shard, lease, ids, entries),
        delivery: ctx.deps.delivery,
        metrics: ctx.metrics,
        log: consumerLog,
        failures: {
          consume: ctx.streak('bus:consumer', consumerLog),
          ack: ctx.streak('bus:ack', consumerLog),
          housekeeping: ctx.streak('bus:inbound-trim', consumerLog),
        },
        batchSize: BATCH_SIZE,
        blockMs: timing.blockMs,
        readAhead: READ_AHEAD,
        retryMs: ctx.retryMs,
        claimIdleMs: timing.claimIdleMs,
        trimIntervalMs: INBOUND_TRIM_MS,
        standingIntervalMs: STANDING_CHECK_MS,
      }),
  });
}

/** Presence across regions (global Redis), with its own subscriber to the presence events. */
function createPresenceMirror(deps: GlobalBusDeps): {
  presence: GlobalPresence;
  subscriber: RedisClient;
} {
  const { config, log } = deps;
  const subscriber = connectRedis(config.globalRedisUrl, 'presence-events', {
    log,
    metrics: deps.metrics,
  });
  const presence = new GlobalPresence({
    region: config.region,
    globalRedis: deps.globalRedis,
    subscriber,
    presence: deps.presence,
    io: deps.io,
    ttlMs: config.bus.presenceMirrorTtlMs,
    log: log.child({ component: 'presence' }),
    metrics: deps.metrics,
  });
  return { presence, subscriber };
}
