import type { EnvelopeText } from '../../shared';
import { FailureStreak } from '../failure-streak';
import type { Logger } from '../log';
import { OUTBOX_STREAM, OutboxReader } from '../outbox';
import { isReady, type RedisClient } from '../redis';
import type { GroupEntry, GroupStream } from '../streams/group-stream';
import { StreamWorker, type BatchPolicy } from '../streams/worker';
import type { OutboxRow } from './dead-letters';
import type { HistoryMetrics } from './metrics';
import type { PgClient } from './pg-client';
import { RowWriter } from './row-writer';

/** The outbox consumer group history writers read through. */
export const HISTORY_GROUP = 'history';

const READ_BLOCK_MS = 1_000;
/**
 * After a batch smaller than HISTORY_BATCH_SIZE, the writer waits this long before reading again:
 * at 100 publishes/s a region writes about 10 rows per INSERT instead of one, so Postgres and the
 * node spend a fraction of the work per envelope, and that work does not land beside every
 * publish's live delivery. History lags live delivery by this much more (reconnects are answered
 * from the recent-history buffer).
 */
const GATHER_MS = 100;
/** Back-off after a failed batch or read: doubles from 200 ms up to 5 s. */
const RETRY = { minMs: 200, maxMs: 5_000 };
/** Deadline of each call to the regional Redis (reads, acks, a dead letter's append). */
const REDIS_DEADLINE_MS = 5_000;
/** Statements of one attempt besides one per row: the batch, partitions of up to a week, the batch again. */
const BATCH_STATEMENTS = 10;

/** Where the policy writes rows: one attempt per call, throwing while the store is unreachable. */
export interface HistoryRows {
  write(rows: readonly OutboxRow[]): Promise<void>;
}

/**
 * Writing history, as a policy on the consumer-group worker: a batch of outbox entries becomes rows
 * (ephemeral envelopes are live only and skipped; an entry this code cannot decode is logged and
 * skipped), written in outbox order in one attempt. When the attempt throws (the primary is
 * unreachable) the batch stays pending and the worker hands it again, first, after its back-off;
 * the entries are acknowledged only once the attempt succeeded.
 */
export class HistoryPolicy implements BatchPolicy<EnvelopeText> {
  constructor(
    private readonly rows: HistoryRows,
    private readonly log: Logger,
  ) {}

  async handle(entries: GroupEntry<EnvelopeText>[]): Promise<void> {
    const rows: OutboxRow[] = [];
    for (const { id, value } of entries) {
      if (!value) this.log.error({ entry: id }, 'history writer: undecodable outbox entry skipped');
      else if (!value.head.ephemeral) rows.push(outboxRow(id, value));
    }
    await this.rows.write(rows);
  }
}

export interface HistoryWriterOptions {
  /** A connection of its own: blocking reads would hold up every other command on a shared one. */
  redis: RedisClient;
  /**
   * The outbox streams besides the default one, each with its own connection (a Redis Cluster's
   * publish groups, each in its own slot, so one blocking read cannot wait on two). Default: the
   * region's one stream on `redis`.
   */
  streams?: readonly { stream: string; redis: RedisClient }[];
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
 * outbox group `history` (the consumer-group worker with `HistoryPolicy`): it writes its own pending
 * entries first, takes over entries left pending by a node that died (after `claimIdleMs`), then
 * reads new ones; each batch is written by `RowWriter` (one statement, `ON CONFLICT (id) DO NOTHING`,
 * refused rows set aside as dead letters) and acknowledged only after the commit. While the primary
 * is unreachable the batch is retried with back-off and the rest waits in the outbox; every failed
 * attempt is counted in `rt_history_write_failures_total`. Nothing here blocks live delivery.
 */
export class HistoryWriter {
  /** One worker per outbox stream, each on its stream's connection. */
  private readonly workers: { worker: StreamWorker<EnvelopeText>; redis: RedisClient }[];
  private stopped = false;

  constructor(options: HistoryWriterOptions) {
    const { metrics, log } = options;
    const failures = new FailureStreak('history-writer', { inc: () => metrics.writeFailures.inc() }, log);
    const streams = options.streams ?? [{ stream: OUTBOX_STREAM, redis: options.redis }];
    this.workers = streams.map(({ stream, redis }) => ({
      redis,
      worker: historyWorker({
        stream: new OutboxReader(redis, redis, HISTORY_GROUP, options.consumer, stream),
        // Each worker retries its own batch: a RowWriter per worker.
        rows: new RowWriter({ ...options, redis }),
        batchSize: options.batchSize,
        claimIdleMs: options.claimIdleMs,
        statementDeadlineMs: options.primary.deadlineMs,
        failures,
        log,
      }),
    }));
  }

  /** Starts once its connection is ready (a node may start while the regional Redis is down). */
  start(): void {
    for (const { worker, redis } of this.workers) {
      if (isReady(redis)) worker.start();
      else redis.once('ready', () => this.stopped || worker.start());
    }
  }

  /** Finishes the batch in hand (or gives up on it while the primary is down) and stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers.map(({ worker }) => worker.stop()));
  }
}

/** The consumer-group worker that writes history: `HistoryPolicy` over one consumer of the group. */
export function historyWorker(deps: {
  stream: GroupStream<EnvelopeText>;
  rows: HistoryRows;
  batchSize: number;
  claimIdleMs: number;
  /** Deadline of one statement to the primary. */
  statementDeadlineMs: number;
  /** Counts every failed read or attempt (`rt_history_write_failures_total`), logs each streak once. */
  failures: FailureStreak;
  log: Logger;
}): StreamWorker<EnvelopeText> {
  const { log } = deps;
  return new StreamWorker<EnvelopeText>({
    stream: deps.stream,
    policy: new HistoryPolicy(deps.rows, log),
    batchSize: deps.batchSize,
    blockMs: READ_BLOCK_MS,
    gatherMs: GATHER_MS,
    claimIdleMs: deps.claimIdleMs,
    ack: 'await',
    retry: RETRY,
    callDeadlineMs: REDIS_DEADLINE_MS,
    // Every statement of an attempt has the Postgres deadline, and every dead letter the Redis one.
    handleDeadlineMs: (deps.batchSize + BATCH_STATEMENTS) * (deps.statementDeadlineMs + REDIS_DEADLINE_MS),
    failures: deps.failures,
    onClaim: (count) => log.info({ count }, 'history writer: took over entries of a stopped node'),
  });
}

/**
 * The row of an outbox entry: the envelope's fields and its JSON text exactly as the outbox holds it
 * (`data` is not parsed here; Postgres checks it once and stores the text as it is, as `json`).
 */
function outboxRow(outboxEntry: string, { head, json }: EnvelopeText): OutboxRow {
  return { outboxEntry, json, id: head.id, room: head.room, ts: head.ts };
}
