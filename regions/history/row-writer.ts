import type { RedisClient } from '../redis';
import type { Logger } from '../log';
import { setAside, type OutboxRow } from './dead-letters';
import type { HistoryMetrics } from './metrics';
import { ensurePartitions, isNoPartitionError, onDemandDays } from './partitions';
import type { PgClient } from './pg-client';
import { insertEnvelopes, isUnavailableError } from './store';

export interface RowWriterOptions {
  /** The regional Redis, where refused rows are set aside. */
  redis: RedisClient;
  /** The primary, behind its deadline. */
  primary: PgClient;
  deadLetterMaxLen: number;
  /** HISTORY_RETENTION_DAYS: no partition is created on demand for a row older than that. */
  retentionDays: number | undefined;
  metrics: HistoryMetrics;
  log: Logger;
}

/**
 * Writes a batch of outbox rows to the primary. The batch goes in one statement; when Postgres
 * refuses it for anything but being unreachable (`isUnavailableError`), the rows are written one by
 * one and each row it refuses is set aside in the dead-letter stream with its error, counted in
 * `rt_history_dead_letters_total` and logged once: one bad row never holds up the region's history.
 * While the primary is unreachable `write` throws, and the caller retries the same batch later.
 */
export class RowWriter {
  /**
   * Outbox entries of the batch being retried that an earlier attempt stored or set aside row by
   * row: not tried again (a row is never set aside twice). Forgotten once a batch commits.
   */
  private readonly done = new Set<string>();

  constructor(private readonly options: RowWriterOptions) {}

  /**
   * One attempt: resolves once every row is stored or set aside; throws when the primary (or, to set
   * a row aside, the regional Redis) is unreachable, leaving the batch to be retried.
   */
  async write(rows: readonly OutboxRow[]): Promise<void> {
    await this.attempt(rows, this.done);
    this.done.clear();
    this.committed(rows);
  }

  /** Throws only when the primary (or, to set a row aside, the regional Redis) is unreachable. */
  private async attempt(rows: readonly OutboxRow[], done: Set<string>): Promise<void> {
    const pending = rows.filter((row) => !done.has(row.outboxEntry));
    if (pending.length === 0) return;
    const insertAll = () =>
      this.options.primary.query((sql) =>
        insertEnvelopes(
          sql,
          pending.map((row) => row.json),
        ),
      );
    try {
      await insertAll();
      return;
    } catch (err) {
      if (isUnavailableError(err)) throw err;
      if (isNoPartitionError(err) && (await this.createPartitionsFor(pending))) {
        try {
          await insertAll();
          return;
        } catch (again) {
          if (isUnavailableError(again)) throw again;
        }
      }
    }
    for (const row of pending) {
      try {
        await this.options.primary.query((sql) => insertEnvelopes(sql, [row.json]));
      } catch (err) {
        if (isUnavailableError(err)) throw err;
        await this.setAside(row, err);
      }
      done.add(row.outboxEntry);
    }
  }

  /**
   * Creates the missing partitions of the rows' days that may be created on demand (a client-chosen
   * id of the last days, or a node whose clock is ahead); returns whether there were any.
   */
  private async createPartitionsFor(rows: readonly OutboxRow[]): Promise<boolean> {
    const days = onDemandDays(
      rows.map((row) => row.id),
      this.options.retentionDays,
    );
    for (const day of days) await this.options.primary.query((sql) => ensurePartitions(sql, day, day));
    return days.length > 0;
  }

  private async setAside(row: OutboxRow, err: unknown): Promise<void> {
    const { redis, deadLetterMaxLen, metrics, log } = this.options;
    await setAside(redis, row, err, deadLetterMaxLen);
    metrics.deadLetters.inc();
    log.error(
      { err: (err as Error).message, id: row.id, room: row.room, outboxEntry: row.outboxEntry },
      'history writer: envelope refused by Postgres; set aside as a dead letter (npm run history -- dead-letters)',
    );
  }

  private committed(rows: readonly OutboxRow[]): void {
    const { metrics } = this.options;
    metrics.batchSize.observe(rows.length);
    const now = Date.now();
    for (const row of rows) metrics.persistLag.observe(Math.max(0, now - row.ts) / 1000);
  }
}
