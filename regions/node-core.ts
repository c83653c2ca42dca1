import type { RegionConfig } from './config';
import { outboxGroups } from './bus/keys';
import { periodic, type Component } from './lifecycle';
import { CONNECTION_LEASE_MS, RedisUserLimits } from './limits';
import { NodeLiveness, RedisNodeRegistry } from './liveness';
import type { Logger } from './log';
import type { RegionMetrics } from './metrics';
import { RegionalOutbox, outboxStreams } from './outbox';
import { PresenceService, RegionalPresence } from './presence';
import { ClusterAcceptStore, Publisher, RedisPublishLog, RoomDelivery } from './publish';
import { connectRedis, type RegionRedis } from './redis';
import { UserControl } from './server-api/user-control';
import { createSocketServer } from './socket/server';

/** How often members whose leave grace ran out are looked for (at most; a fifth of the grace if shorter). */
const PRESENCE_SWEEP_MS = 500;

type Deps = { log: Logger; metrics: RegionMetrics };

/**
 * The components every node runs before history, the bus and the front end (1-6 above), and what
 * those use of them.
 */
export function assembleCore(config: RegionConfig, redis: RegionRedis, deps: Deps) {
  const { log, metrics } = deps;
  const { io, httpServer } = createSocketServer(config, redis, metrics);
  // The groups this configuration runs: the outbox is trimmed below them alone.
  const outbox = new RegionalOutbox(redis.command, outboxGroups(config), outboxStreams(config));
  const rules = {
    publishRatePerUser: config.limits.publishRatePerUser,
    ephemeralRatePerUser: config.limits.ephemeralRatePerUser,
    idempotencyWindowMs: config.idempotencyWindowS * 1000,
    idFutureMs: config.idFutureS * 1000,
  };
  // On a Redis Cluster the publish log is spread over publish groups (docs/scaling.md).
  const acceptStore = redis.regionalIsCluster
    ? new ClusterAcceptStore(redis.command, rules, config.bus.shards)
    : undefined;
  const publishLog = new RedisPublishLog(
    redis.command,
    rules,
    { ...deps, holdMaxBytes: config.outbox.holdMaxBytes },
    acceptStore,
  );
  const delivery = new RoomDelivery(io, metrics);
  const publisher = new Publisher({
    region: config.region,
    maxPayloadBytes: config.limits.maxPayloadBytes,
    log: publishLog,
    delivery,
    metrics,
    logger: log,
  });
  const registry = new RedisNodeRegistry(redis.command);
  const presenceStore = new RegionalPresence(redis.command, config.region, config.nodeId, config.presence);
  const presence = {
    service: new PresenceService(presenceStore, io, config.region, config.presence.membersCap, deps),
    store: presenceStore,
  };
  const users = new UserControl({
    io,
    globalRedis: redis.global,
    subscriber: connectRedis(config.globalRedisUrl, 'user-control', deps),
    revocationTtlMs: config.revocationTtlMs,
    ...deps,
  });
  const { nodeLeaseMs, leaveGraceMs } = config.presence;
  const components: Component[] = [
    redisComponent(redis),
    { name: 'outbox', start: () => outbox.ensureGroups(), stop() {} },
    periodic(
      'outbox-trim',
      config.outbox.trimIntervalMs,
      async () => void (await outbox.trimAcknowledged()),
      deps,
    ),
    publishLogComponent(publishLog, Math.min(nodeLeaseMs, CONNECTION_LEASE_MS) / 3, deps),
    new NodeLiveness({
      registry,
      nodeId: config.nodeId,
      leaseMs: nodeLeaseMs,
      beatMs: nodeLeaseMs / 3,
      onDead: [(node) => presenceStore.removeNode(node)],
      ...deps,
    }),
    presenceComponent(
      presence,
      Math.max(50, Math.min(PRESENCE_SWEEP_MS, Math.floor(leaveGraceMs / 5))),
      deps,
    ),
    users,
  ];
  const userLimits = new RedisUserLimits(redis.command, config.nodeId, config.limits, deps);
  return {
    io,
    httpServer,
    outbox,
    publishLog,
    delivery,
    publisher,
    registry,
    presence,
    users,
    userLimits,
    components,
  };
}

/** The node's Redis connections: up before anything else starts (`connectRegionRedis` waits), closed last. */
function redisComponent(redis: RegionRedis): Component {
  return {
    name: 'redis',
    checks: [{ name: 'redis', state: () => (redis.regionalReady() ? 'up' : 'down'), critical: true }],
    start() {},
    stop: () => redis.close(),
  };
}

/** Held envelopes appended every `intervalMs` (and when Redis is ready again); a last try at stop. */
function publishLogComponent(publishLog: RedisPublishLog, intervalMs: number, deps: Deps): Component {
  const flushing = periodic('publish-log', intervalMs, () => publishLog.flush(), deps);
  return {
    name: 'publish-log',
    start: () => flushing.start(),
    async stop() {
      await flushing.stop();
      await publishLog.flush();
      if (publishLog.heldCount > 0)
        deps.log.error(
          { held: publishLog.heldCount },
          'regional Redis down at shutdown: held envelopes lost',
        );
    },
  };
}

/** Members whose leave grace ran out announced every `sweepMs`; at stop, this node's members released. */
function presenceComponent(
  presence: { service: PresenceService; store: RegionalPresence },
  sweepMs: number,
  deps: Deps,
): Component {
  const sweeps = periodic('presence-sweep', sweepMs, () => presence.service.sweep(), deps);
  return {
    name: 'presence',
    start: () => sweeps.start(),
    async stop() {
      await sweeps.stop();
      await presence.store.removeNode().catch(() => undefined);
    },
  };
}
