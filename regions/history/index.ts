import postgres from 'postgres';
import type { RegionConfig } from '../config';
import type { Logger } from '../log';
import type { RegionNode } from '../node';
import { connectRedis } from '../redis';
import { HistoryMetrics } from './metrics';
import { HistoryMaintenance } from './maintenance';
import { HistoryPages } from './pages';
import { idFloor, retentionHorizonMs } from './partitions';
import { PgClient } from './pg-client';
import { ReadRouting } from './read-routing';
import { RecentHistory } from './recent';
import { HistoryRecovery } from './recovery';
import { HistoryWriter } from './writer';

export { HISTORY_GROUP, HistoryWriter } from './writer';
export { RecentHistory, type RecentBounds } from './recent';
export { HistoryMetrics } from './metrics';

/** Recent-history append failures are logged at most this often (each one is counted). */
const APPEND_ERROR_LOG_MS = 10_000;

/** What `attachHistory` started, for tests and embedding. */
export interface AttachedHistory {
  readonly metrics: HistoryMetrics;
  readonly writer: HistoryWriter;
  readonly recent: RecentHistory;
}

/**
 * Gives a region node its history: the outbox → Postgres writer, the recent-history buffer fed by
 * room delivery, `history` pages and `join { since }` recovery (replacing `noHistory`), history
 * metrics, and the non-critical readiness checks `postgres` and `postgres-replica` (`up`, `down`,
 * `hung`; the replica also `behind` or `unverified`). Postgres being
 * down delays history; it never stops the node or live delivery. Everything stops on node close.
 */
export function attachHistory(node: RegionNode, config: RegionConfig, log: Logger): AttachedHistory {
  const historyLog = log.child({ component: 'history' });
  const metrics = new HistoryMetrics(node.metrics.registry, () => node.outbox.depth('history'));
  const deps = { metrics, log: historyLog };
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

  let appendErrorLoggedAt = 0;
  const recent = new RecentHistory(node.redis, config.history.recent, (err, rooms) => {
    node.metrics.internalErrors.inc({ component: 'recent-history' });
    // Members on other nodes who lost these rooms' fan-out meanwhile read the buffer to catch up.
    for (const room of rooms) node.resync.roomAtRisk(room);
    if (Date.now() - appendErrorLoggedAt < APPEND_ERROR_LOG_MS) return;
    appendErrorLoggedAt = Date.now();
    historyLog.warn(
      { err: err.message },
      'recent-history append failed (reconnect recovery falls back to Postgres)',
    );
  });
  node.delivery.observe((delivered) => recent.append(delivered));
  node.resync.settleFirst(() => recent.flushed());
  const { retentionDays } = config.history;
  // The oldest id history answers: what retention removed (or is about to) is never answered.
  const floor = () => (retentionDays === undefined ? undefined : idFloor(retentionHorizonMs(retentionDays)));
  node.services.history = new HistoryPages(reads, floor);
  node.services.recovery = new HistoryRecovery(recent, reads, config.history.recoveryLimit, deps, floor);

  const writerRedis = connectRedis(
    config.redisUrl,
    'history-writer',
    { log, metrics: node.metrics },
    { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
  );
  const writer = new HistoryWriter({
    redis: writerRedis,
    primary,
    consumer: config.nodeId,
    batchSize: config.history.batchSize,
    deadLetterMaxLen: config.history.deadLetterMaxLen,
    retentionDays,
    claimIdleMs: config.history.claimIdleMs,
    metrics,
    log: historyLog,
  });
  writer.start();
  const maintenance = new HistoryMaintenance(primary, retentionDays, deps);
  maintenance.start();

  node.addReadinessCheck('postgres', () => primary.probe());
  if (replica) node.addReadinessCheck('postgres-replica', () => reads.replicaStatus());
  node.onClose(async () => {
    await Promise.all([writer.stop(), maintenance.stop()]);
    await writerRedis.quit().catch(() => writerRedis.disconnect());
    await Promise.all([primary.end(), replica?.end()]);
  });
  return { metrics, writer, recent };
}
