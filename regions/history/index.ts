import postgres from 'postgres';
import type { RegionConfig } from '../config';
import type { FanoutResync } from '../fanout/resync';
import type { Logger } from '../log';
import type { Component, ReadinessCheck } from '../lifecycle';
import type { RegionMetrics } from '../metrics';
import { outboxStreams } from '../outbox';
import type { RoomDelivery } from '../publish';
import { connectRedis, parseRedisTarget, type RedisClient } from '../redis';
import type { HistoryReader, MissedMessages } from './reads';
import { HistoryMetrics } from './metrics';
import { HistoryMaintenance } from './maintenance';
import { HistoryPages } from './pages';
import { idFloor, retentionHorizonMs } from './partitions';
import { PgClient } from './pg-client';
import { ReadRouting } from './read-routing';
import type { RecentHistory } from './recent';
import { RedisRecentHistory } from './redis-recent';
import { HistoryRecovery } from './recovery';
import { HistoryWriter } from './writer';

export { HISTORY_GROUP, HistoryWriter } from './writer';
export type { RecentHistory, RecentBounds } from './recent';
export { RedisRecentHistory } from './redis-recent';
export { MemoryRecentHistory } from './memory-recent';
export { HistoryMetrics } from './metrics';
export type { HistoryReader, MissedAnswer, MissedMessages } from './reads';

/** The writer's connections: above its 1 s blocking read; a hung Redis fails commands instead of holding them. */
const WRITER_REDIS = { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 4_000 } as const;
/** Recent-history append failures are logged at most this often (each one is counted). */
const APPEND_ERROR_LOG_MS = 10_000;

/** What the node gives its history. */
export interface HistoryDeps {
  config: RegionConfig;
  log: Logger;
  /** The node's metrics (history adds its own to the registry). */
  metrics: RegionMetrics;
  /** The regional Redis command client (recent-history buffer, dead letters). */
  redis: RedisClient;
  /** Room delivery, observed to fill the recent-history buffer in this node's delivery order. */
  delivery: RoomDelivery;
  /** Told of rooms whose buffer appends failed; waits for pending appends before a resync. */
  resync?: Pick<FanoutResync, 'roomAtRisk' | 'settleFirst'>;
  /** Outbox entries the `history` group has not written yet (`rt_history_backlog`). */
  backlog(): Promise<number>;
}

/** History as the node runs it: the component, and the reads the socket and HTTP front ends use. */
export interface RegionHistory {
  readonly component: Component;
  readonly reads: { history: HistoryReader; recovery: MissedMessages };
}

/**
 * A region node's history: the outbox → Postgres writer, the recent-history buffer fed by room
 * delivery, `history` pages and `join { since }` recovery, partition maintenance, history metrics,
 * and the non-critical readiness checks `postgres` and `postgres-replica` (`up`, `down`, `hung`; the
 * replica also `behind` or `unverified`). Postgres being down delays history; it never stops the
 * node or live delivery.
 */
export function createHistory(deps: HistoryDeps): RegionHistory {
  const { config } = deps;
  const log = deps.log.child({ component: 'history' });
  const metrics = new HistoryMetrics(deps.metrics.registry, deps.backlog);
  const { primary, replica, reads } = connectPostgres(config, { metrics, log });
  const recent = recentHistory(deps, log);
  deps.delivery.observe((delivered) => recent.append(delivered));
  deps.resync?.settleFirst(() => recent.settled());
  const { retentionDays } = config.history;
  // The oldest id history answers: what retention removed (or is about to) is never answered.
  const floor = () => (retentionDays === undefined ? undefined : idFloor(retentionHorizonMs(retentionDays)));
  const history = new HistoryPages(reads, floor);
  const recovery = new HistoryRecovery(recent, reads, config.history.recoveryLimit, { metrics, log }, floor);

  const writerRedis = connectRedis(
    config.redisUrl,
    'history-writer',
    { log: deps.log, metrics: deps.metrics },
    WRITER_REDIS,
  );
  // On a Redis Cluster, one connection per publish group's outbox: blocking reads of different slots
  // cannot share one.
  const groupStreams = outboxStreams(config);
  const streams = groupStreams.map((stream, i) => ({
    stream,
    redis:
      i === 0
        ? writerRedis
        : connectRedis(
            config.redisUrl,
            `history-writer:${i}`,
            { log: deps.log, metrics: deps.metrics },
            WRITER_REDIS,
          ),
  }));
  const writer = new HistoryWriter({
    redis: writerRedis,
    streams,
    primary,
    consumer: config.nodeId,
    batchSize: config.history.batchSize,
    deadLetterMaxLen: config.history.deadLetterMaxLen,
    retentionDays,
    claimIdleMs: config.history.claimIdleMs,
    metrics,
    log,
  });
  const maintenance = new HistoryMaintenance(primary, retentionDays, { metrics, log });
  const checks: ReadinessCheck[] = [{ name: 'postgres', state: () => primary.probe() }];
  if (replica) checks.push({ name: 'postgres-replica', state: () => reads.replicaStatus() });
  const component: Component = {
    name: 'history',
    checks,
    start() {
      writer.start();
      maintenance.start();
    },
    async stop() {
      await Promise.all([writer.stop(), maintenance.stop()]);
      for (const { redis } of streams) await redis.quit().catch(() => redis.disconnect());
      await Promise.all([primary.end(), replica?.end()]);
    },
  };
  return { component, reads: { history, recovery } };
}

/** The primary and the optional replica, each behind the Postgres deadline, and the read routing. */
function connectPostgres(config: RegionConfig, deps: { metrics: HistoryMetrics; log: Logger }) {
  const deadlineMs = config.history.postgresDeadlineMs;
  const clientOptions = {
    connect_timeout: Math.ceil(deadlineMs / 1000),
    idle_timeout: 60,
    onnotice: () => undefined,
    connection: {
      // Names this node's sessions in pg_stat_activity on the primary and the replica.
      application_name: `rt-history:${config.nodeId}`,
      // The server's half of the deadline; PgClient's timer is the other half.
      statement_timeout: deadlineMs,
    },
  } as const;
  // With several hosts in DATABASE_URL, connections go to the one that takes writes (failover).
  const primary = new PgClient(
    'primary',
    () => postgres(config.databaseUrl, { ...clientOptions, max: 4, target_session_attrs: 'read-write' }),
    deadlineMs,
    deps,
  );
  const replicaUrl = config.databaseReplicaUrl;
  const replica = replicaUrl
    ? new PgClient(
        'replica',
        () => postgres(replicaUrl, { ...clientOptions, max: 4, target_session_attrs: 'standby' }),
        deadlineMs,
        deps,
      )
    : undefined;
  const reads = new ReadRouting(primary, replica, config.history.replicaMaxLagBytes, deps);
  return { primary, replica, reads };
}

/** The regional recent-history buffer; append failures are counted, and logged at most every 10 s. */
function recentHistory(deps: HistoryDeps, log: Logger): RecentHistory {
  let appendErrorLoggedAt = 0;
  const { config } = deps;
  // On a Redis Cluster the buffers spread over the publish groups (a room's group: its bus shard).
  const groups = parseRedisTarget(config.redisUrl).kind === 'cluster' ? config.bus.shards : undefined;
  const onError = (err: Error, rooms: string[]) => {
    deps.metrics.internalErrors.inc({ component: 'recent-history' });
    // Members on other nodes who lost these rooms' fan-out meanwhile read the buffer to catch up.
    for (const room of rooms) deps.resync?.roomAtRisk(room);
    if (Date.now() - appendErrorLoggedAt < APPEND_ERROR_LOG_MS) return;
    appendErrorLoggedAt = Date.now();
    log.warn(
      { err: err.message },
      'recent-history append failed (reconnect recovery falls back to Postgres)',
    );
  };
  return new RedisRecentHistory(deps.redis, config.history.recent, onError, groups);
}
