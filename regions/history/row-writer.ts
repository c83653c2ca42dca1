import type { RedisClient } from '../redis';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log';
import { setAside, type OutboxRow } from './dead-letters';
import type { HistoryMetrics } from './metrics';
import type { PgClient } from './pg-client';
import { insertEnvelopes, isUnavailableError } from './store';

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;

export interface RowWriterOptions {
  /** The regional Redis, where refused rows are set aside. */
  redis: RedisClient;
  /** The primary, behind its deadline. */
  primary: PgClient;
  deadLetterMaxLen: number;
  metrics: HistoryMetrics;
  log: Logger;
}

/**
 * Writes a batch of outbox rows to the primary. The batch goes in one statement; when Postgres
 * refuses it for anything but being unreachable (`isUnavailableError`), the rows are written one by
 * one and each row it refuses is set aside in the dead-letter stream with its error, counted in
 * `rt_history_dead_letters_total` and logged once: one bad row never holds up the region's history.
 * While the primary is unreachable the batch is retried with back-off, never set aside.
 */
export class RowWriter {
  private failingSince: number | undefined;

  constructor(private readonly options: RowWriterOptions) {}

  /** Resolves true once every row is stored or set aside; false when `stopping()` turned true first. */
  async write(rows: readonly OutboxRow[], stopping: () => boolean): Promise<boolean> {
    // Rows stored or set aside by an earlier attempt of this batch (row by row), not tried again.
    const done = new Set<string>();
    let retryMs = RETRY_MIN_MS;
    for (;;) {
      try {
        await this.attempt(rows, done);
        this.committed(rows);
        return true;
      } catch (err) {
        this.unavailable(err);
      }
      if (stopping()) return false;
      await sleep(retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    }
  }

  /** Throws only when the primary (or, to set a row aside, the regional Redis) is unreachable. */
  private async attempt(rows: readonly OutboxRow[], done: Set<string>): Promise<void> {
    const pending = rows.filter((row) => !done.has(row.outboxEntry));
    if (pending.length === 0) return;
    try {
      await this.options.primary.query((sql) =>
        insertEnvelopes(
          sql,
          pending.map((row) => row.json),
        ),
      );
      return;
    } catch (err) {
      if (isUnavailableError(err)) throw err;
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

  private async setAside(row: OutboxRow, err: unknown): Promise<void> {
    const { redis, deadLetterMaxLen, metrics, log } = this.options;
    await setAside(redis, row, err, deadLetterMaxLen);
    metrics.deadLetters.inc();
    log.error(
      { err: (err as Error).message, id: row.id, room: row.room, outboxEntry: row.outboxEntry },
      'history writer: envelope refused by Postgres; set aside as a dead letter (npm run history -- dead-letters)',
    );
  }

  private unavailable(err: unknown): void {
    const { metrics, log } = this.options;
    metrics.writeFailures.inc();
    if (this.failingSince !== undefined) return;
    this.failingSince = Date.now();
    log.warn(
      { err: (err as Error).message },
      'history writer: primary unavailable; envelopes wait in the outbox',
    );
  }

  private committed(rows: readonly OutboxRow[]): void {
    const { metrics, log } = this.options;
    if (this.failingSince !== undefined) {
      log.info({ downMs: Date.now() - this.failingSince }, 'history writer: primary back; catching up');
      this.failingSince = undefined;
    }
    metrics.batchSize.observe(rows.length);
    const now = Date.now();
    for (const row of rows) metrics.persistLag.observe(Math.max(0, now - row.ts) / 1000);
  }
}
