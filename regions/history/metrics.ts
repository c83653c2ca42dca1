import type { Registry } from 'prom-client';
import { metricsOn } from '../metrics';

/** Where a history read was answered from. */
export type ReadSource = 'replica' | 'primary';

/** History metrics, registered on the node's registry (`node.metrics.registry`). */
export class HistoryMetrics {
  readonly batchSize;
  readonly persistLag;
  readonly writeFailures;
  readonly deadLetters;
  readonly maintenanceFailures;
  readonly backlog;
  readonly replicaLagBytes;
  readonly postgresUp;
  readonly postgresHung;
  readonly deadlinesExceeded;
  readonly unverifiedReads;
  readonly reads;
  readonly recoveries;

  constructor(registry: Registry, backlog: () => Promise<number>) {
    const { counter, gauge, histogram } = metricsOn(registry);
    const server = ['server'] as const;
    this.batchSize = histogram(
      'rt_history_batch_size',
      'Envelopes per history INSERT into the primary',
      [1, 5, 10, 25, 50, 100, 200, 500, 1000],
    );
    this.persistLag = histogram(
      'rt_history_persist_lag_seconds',
      'From acceptance (envelope ts) to commit in the primary',
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    );
    this.writeFailures = counter(
      'rt_history_write_failures_total',
      'History batch attempts that failed because the primary was unreachable (retried until they commit)',
    );
    this.deadLetters = counter(
      'rt_history_dead_letters_total',
      'Envelopes Postgres refused, set aside in the dead-letter stream (npm run history -- dead-letters)',
    );
    this.maintenanceFailures = counter(
      'rt_history_maintenance_failures_total',
      'Rounds of partition creation / retention that failed (retried in 30 s)',
    );
    this.backlog = gauge(
      'rt_history_backlog',
      'Outbox entries the history group has not acknowledged yet (region-wide)',
      [],
      async function collect() {
        this.set(await backlog().catch(() => -1));
      },
    );
    this.replicaLagBytes = gauge(
      'rt_history_replica_lag_bytes',
      'WAL bytes the read replica has not replayed yet (primary current LSN - replica replay LSN)',
    );
    this.postgresUp = gauge(
      'rt_history_postgres_up',
      '1 when the named Postgres server answered its last query',
      server,
    );
    this.postgresHung = gauge(
      'rt_history_postgres_hung',
      '1 when the named Postgres server left its last query unanswered past the deadline',
      server,
    );
    this.deadlinesExceeded = counter(
      'rt_history_postgres_deadline_exceeded_total',
      'Postgres queries given up on at the deadline (the server or the network hangs)',
      server,
    );
    this.unverifiedReads = counter(
      'rt_history_unverified_reads_total',
      'Reads the replica answered while the primary could not say how far behind it is (possibly stale)',
      ['kind'],
    );
    this.reads = counter(
      'rt_history_reads_total',
      'History and recovery queries, by the server that answered them',
      ['source', 'kind'],
    );
    this.recoveries = counter(
      'rt_history_recoveries_total',
      'join { since } answers, by path: the regional buffer or Postgres',
      ['path'],
    );
  }
}
