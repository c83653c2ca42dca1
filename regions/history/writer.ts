import type { RedisClient } from '../redis';
import type { Envelope } from '../../shared';
import type { Logger } from '../log';
import { OUTBOX_STREAM, decodeEnvelope } from '../outbox';
import type { HistoryMetrics } from './metrics';
import { insertEnvelopes, isDataError, type Sql } from './store';
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
  primary: Sql;
  /** This node's consumer name in the group. */
  consumer: string;
  batchSize: number;
  /** Entries pending to another consumer for this long are taken over (that node died). */
  claimIdleMs: number;
  metrics: HistoryMetrics;
  log: Logger;
}

/**
 * Writes this region's outbox to the Postgres primary. Every node of the region is a consumer of the
 * outbox group `history`: it reads batches, inserts them in one statement (`ON CONFLICT (id) DO
 * NOTHING`) and acknowledges them only after the commit. While the primary is down the batch is
 * retried with back-off and the rest waits in the outbox; entries left pending by a node that died
 * are taken over by a peer (XAUTOCLAIM) after `claimIdleMs`. Nothing here blocks live delivery.
 */
export class HistoryWriter {
  private stopping = false;
  private running: Promise<void> | undefined;
  /** After a start or a failure, this consumer's own pending entries are written first. */
  private ownPendingFirst = true;
  private nextClaimAt = 0;
  private failingSince: number | undefined;

  constructor(private readonly options: HistoryWriterOptions) {}

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

  /** Inserts the entries' envelopes, retrying until committed (or stopping), then acknowledges them. */
  private async persist(entries: StreamEntry[]): Promise<void> {
    const { log } = this.options;
    const envelopes: Envelope[] = [];
    for (const [id, fields] of entries) {
      const envelope = fields ? decodeEnvelope(fields) : undefined;
      if (envelope) envelopes.push(envelope);
      else log.error({ entry: id }, 'history writer: undecodable outbox entry skipped');
    }
    let retryMs = RETRY_MIN_MS;
    while (!(await this.tryInsert(envelopes))) {
      if (this.stopping) return; // left pending: written on restart or taken over by a peer
      await sleep(retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    }
    await this.options.redis.xack(OUTBOX_STREAM, HISTORY_GROUP, ...entries.map(([id]) => id));
  }

  private async tryInsert(envelopes: Envelope[]): Promise<boolean> {
    const { primary, metrics, log } = this.options;
    try {
      await insertEnvelopes(primary, envelopes);
    } catch (err) {
      if (isDataError(err)) return this.insertOneByOne(envelopes);
      metrics.writeFailures.inc();
      metrics.postgresUp.set({ server: 'primary' }, 0);
      if (this.failingSince === undefined) {
        this.failingSince = Date.now();
        log.warn(
          { err: (err as Error).message },
          'history writer: primary unavailable; envelopes wait in the outbox',
        );
      }
      return false;
    }
    this.committed(envelopes);
    return true;
  }

  /** A batch with a row Postgres rejects (e.g. `\u0000` in jsonb): write the rest, log the bad ones. */
  private async insertOneByOne(envelopes: Envelope[]): Promise<boolean> {
    for (const envelope of envelopes) {
      try {
        await insertEnvelopes(this.options.primary, [envelope]);
      } catch (err) {
        if (!isDataError(err)) return false;
        this.options.metrics.rejected.inc();
        this.options.log.error(
          { err: (err as Error).message, id: envelope.id, room: envelope.room },
          'history writer: envelope rejected by Postgres; not stored',
        );
      }
    }
    this.committed(envelopes);
    return true;
  }

  private committed(envelopes: Envelope[]): void {
    const { metrics, log } = this.options;
    if (this.failingSince !== undefined) {
      log.info({ downMs: Date.now() - this.failingSince }, 'history writer: primary back; catching up');
      this.failingSince = undefined;
    }
    metrics.postgresUp.set({ server: 'primary' }, 1);
    metrics.batchSize.observe(envelopes.length);
    const now = Date.now();
    for (const envelope of envelopes) metrics.persistLag.observe(Math.max(0, now - envelope.ts) / 1000);
  }
}
