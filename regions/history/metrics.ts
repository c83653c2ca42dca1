import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Where a history read was answered from. */
export type ReadSource = 'replica' | 'primary';

/** History metrics, registered on the node's registry (`node.metrics.registry`). */
export class HistoryMetrics {
  readonly batchSize: Histogram<string>;
  readonly persistLag: Histogram<string>;
  readonly writeFailures: Counter<string>;
  readonly deadLetters: Counter<string>;
  readonly maintenanceFailures: Counter<string>;
  readonly backlog: Gauge<string>;
  readonly replicaLagBytes: Gauge<string>;
  readonly postgresUp: Gauge<'server'>;
  readonly postgresHung: Gauge<'server'>;
  readonly deadlinesExceeded: Counter<'server'>;
  readonly unverifiedReads: Counter<'kind'>;
  readonly reads: Counter<'source' | 'kind'>;
  readonly recoveries: Counter<'path'>;

  constructor(registry: Registry, backlog: () => Promise<number>) {
    const registers = [registry];
    this.batchSize = new Histogram({
      name: 'rt_history_batch_size',
      help: 'Envelopes per history INSERT into the primary',
      buckets: [1, 5, 10, 25, 50, 100, 200, 500, 1000],
      registers,
    });
    this.persistLag = new Histogram({
      name: 'rt_history_persist_lag_seconds',
      help: 'From acceptance (envelope ts) to commit in the primary',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers,
    });
    this.writeFailures = new Counter({
      name: 'rt_history_write_failures_total',
      help: 'History batch attempts that failed because the primary was unreachable (retried until they commit)',
      registers,
    });
    this.deadLetters = new Counter({
      name: 'rt_history_dead_letters_total',
      help: 'Envelopes Postgres refused, set aside in the dead-letter stream (npm run history -- dead-letters)',
      registers,
    });
    this.maintenanceFailures = new Counter({
      name: 'rt_history_maintenance_failures_total',
      help: 'Rounds of partition creation / retention that failed (retried in 30 s)',
      registers,
    });
    this.backlog = new Gauge({
      name: 'rt_history_backlog',
      help: 'Outbox entries the history group has not acknowledged yet (region-wide)',
      registers,
      async collect() {
        this.set(await backlog().catch(() => -1));
      },
    });
    this.replicaLagBytes = new Gauge({
      name: 'rt_history_replica_lag_bytes',
      help: 'WAL bytes the read replica has not replayed yet (primary current LSN - replica replay LSN)',
      registers,
    });
    this.postgresUp = new Gauge({
      name: 'rt_history_postgres_up',
      help: '1 when the named Postgres server answered its last query',
      labelNames: ['server'] as const,
      registers,
    });
    this.postgresHung = new Gauge({
      name: 'rt_history_postgres_hung',
      help: '1 when the named Postgres server left its last query unanswered past the deadline',
      labelNames: ['server'] as const,
      registers,
    });
    this.deadlinesExceeded = new Counter({
      name: 'rt_history_postgres_deadline_exceeded_total',
      help: 'Postgres queries given up on at the deadline (the server or the network hangs)',
      labelNames: ['server'] as const,
      registers,
    });
    this.unverifiedReads = new Counter({
      name: 'rt_history_unverified_reads_total',
      help: 'Reads the replica answered while the primary could not say how far behind it is (possibly stale)',
      labelNames: ['kind'] as const,
      registers,
    });
    this.reads = new Counter({
      name: 'rt_history_reads_total',
      help: 'History and recovery queries, by the server that answered them',
      labelNames: ['source', 'kind'] as const,
      registers,
    });
    this.recoveries = new Counter({
      name: 'rt_history_recoveries_total',
      help: 'join { since } answers, by path: the regional buffer or Postgres',
      labelNames: ['path'] as const,
      registers,
    });
  }
}
