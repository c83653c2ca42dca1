import type { RedisClient } from '../redis';
import type { Logger } from '../log';
import { OUTBOX_STREAM } from '../outbox';
import { decodeEntryText, entryIsEphemeral } from '../../shared';
import type { HistoryMetrics } from './metrics';
import type { OutboxRow } from './dead-letters';
import { RowWriter } from './row-writer';
import type { PgClient } from './pg-client';
import { setTimeout as sleep } from 'node:timers/promises';

/** The outbox consumer group history writers read through. */
export const HISTORY_GROUP = 'history';

const READ_BLOCK_MS = 1_000;
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;

/** A stream entry; `fields` is null for an entry pending to us that trimming removed. */
type StreamEntry = [id: string, fields: string[] | null];

export interface HistoryWriterOptions {
  /** A connection of its own: blocking reads would hold up every other command on a shared one. */
  redis: RedisClient;
  /** The primary, behind its deadline. */
  primary: PgClient;
  /** This node's consumer name in the group. */
  consumer: string;
  batchSize: number;
  /** Cap of the dead-letter stream. */
  deadLetterMaxLen: number;
  /** HISTORY_RETENTION_DAYS, or undefined to keep everything. */
  retentionDays: number | undefined;
  /** Entries pending to another consumer for this long are taken over (that node died). */
  claimIdleMs: number;
  metrics: HistoryMetrics;
  log: Logger;
}

/**
 * Writes this region's outbox to the Postgres primary. Every node of the region is a consumer of the
 * outbox group `history`: it reads batches, writes them (`RowWriter`: one statement, `ON CONFLICT (id)
 * DO NOTHING`, refused rows set aside as dead letters) and acknowledges them only after the commit.
 * While the primary is unreachable the batch is retried with back-off and the rest waits in the
 * outbox; entries left pending by a node that died are taken over by a peer (XAUTOCLAIM) after
 * `claimIdleMs`. Nothing here blocks live delivery.
 */
export class HistoryWriter {
  private stopping = false;
  private running: Promise<void> | undefined;
  /** After a start or a failure, this consumer's own pending entries are written first. */
  private ownPendingFirst = true;
  private nextClaimAt = 0;
  private readonly rows: RowWriter;

  constructor(private readonly options: HistoryWriterOptions) {
    this.rows = new RowWriter(options);
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Finishes the batch in hand (or gives up on it while the primary is down) and stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    const { redis } = this.options;
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    let retryMs = RETRY_MIN_MS;
    while (!this.stopping) {
      try {
        const entries = await this.nextEntries();
        if (entries.length > 0) await this.persist(entries);
        retryMs = RETRY_MIN_MS;
      } catch (err) {
        this.ownPendingFirst = true;
        this.options.metrics.writeFailures.inc();
        this.options.log.warn({ err: (err as Error).message }, 'history writer: outbox read failed');
        await sleep(retryMs);
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    }
  }

  private async nextEntries(): Promise<StreamEntry[]> {
    const { redis, consumer, batchSize, claimIdleMs } = this.options;
    if (this.ownPendingFirst) {
      const own = await this.readGroup(['STREAMS', OUTBOX_STREAM, '0']);
      if (own.length > 0) return own;
      this.ownPendingFirst = false;
    }
    if (Date.now() >= this.nextClaimAt) {
      this.nextClaimAt = Date.now() + Math.max(claimIdleMs / 2, 500);
      const claimed = (await redis.xautoclaim(
        OUTBOX_STREAM,
        HISTORY_GROUP,
        consumer,
        claimIdleMs,
        '0-0',
        'COUNT',
        batchSize,
      )) as [string, StreamEntry[], string[]?];
      const live = claimed[1].filter((entry) => entry !== null);
      if (live.length > 0) {
        this.options.log.info({ count: live.length }, 'history writer: took over entries of a stopped node');
        return live;
      }
    }
    return this.readGroup(['BLOCK', READ_BLOCK_MS, 'STREAMS', OUTBOX_STREAM, '>']);
  }

  private async readGroup(tail: (string | number)[]): Promise<StreamEntry[]> {
    const { redis, consumer, batchSize } = this.options;
    const reply = (await redis.call(
      'XREADGROUP',
      'GROUP',
      HISTORY_GROUP,
      consumer,
      'COUNT',
      batchSize,
      ...tail,
    )) as [string, StreamEntry[]][] | null;
    return reply?.[0]?.[1] ?? [];
  }

  /** Writes the entries' envelopes (setting aside what Postgres refuses), then acknowledges them. */
  private async persist(entries: StreamEntry[]): Promise<void> {
    const rows: OutboxRow[] = [];
    for (const [entry, fields] of entries) {
      const row = fields ? outboxRow(entry, fields) : undefined;
      // Ephemeral envelopes are delivered live only, never stored.
      if (row) {
        if (!entryIsEphemeral(fields!)) rows.push(row);
      } else this.options.log.error({ entry }, 'history writer: undecodable outbox entry skipped');
    }
    if (!(await this.rows.write(rows, () => this.stopping))) return; // left pending: see stop()
    await this.options.redis.xack(OUTBOX_STREAM, HISTORY_GROUP, ...entries.map(([id]) => id));
  }
}

/**
 * The row of an outbox entry: the envelope's fields and its JSON text exactly as the outbox holds it
 * (`data` is not parsed here; Postgres parses it once, into jsonb).
 */
function outboxRow(outboxEntry: string, fields: string[]): OutboxRow | undefined {
  const decoded = decodeEntryText(fields);
  if (!decoded) return undefined;
  const { head, json } = decoded;
  return { outboxEntry, json, id: head.id, room: head.room, ts: head.ts };
}
