import { ProtocolError, type EnvelopeId } from '../../shared';
import type { Logger } from '../log';
import type { MissedAnswer, MissedMessages } from './reads';
import type { HistoryMetrics } from './metrics';
import type { HistoryReads } from './history-store';
import type { RecentHistory } from './recent';
import {
  RECOVERY_REORDER_WINDOW_MS,
  isAfterCursor,
  isPastCursor,
  mergeMissed,
  missedFromBuffer,
  reorderedFirst,
  type BufferedEnvelope,
} from './recovery-order';
import { answerBytes, newestWithin, type StoredEnvelope } from './stored';
import type { HistoryCursor, StoredRead } from './history-store';
import { cursorFromId } from './store';

/**
 * Answers `join { room, since }`. Fast path: `since` is in the room's regional buffer, and the answer
 * is what this region delivered after it, in that order. Otherwise (`since` older than the buffer, or
 * never delivered here because the client failed over from another region) Postgres answers from the
 * stored position of `since` (or its UUIDv7 time when it is not stored yet), completed with what the
 * buffer holds that is not persisted yet. A Postgres outage degrades to the buffer alone: a join never
 * fails because history is down.
 */
export class HistoryRecovery implements MissedMessages {
  constructor(
    private readonly recent: RecentHistory,
    private readonly reads: HistoryReads,
    private readonly limit: number,
    private readonly deps: { metrics: HistoryMetrics; log: Logger },
    /** The oldest id history still answers (HISTORY_RETENTION_DAYS), or undefined. */
    private readonly floor: () => EnvelopeId | undefined = () => undefined,
  ) {}

  async missedSince(
    room: string,
    since: EnvelopeId | undefined,
    maxAnswerBytes: number,
  ): Promise<MissedAnswer> {
    if (!since) return { missed: [], complete: true };
    const floor = this.floor();
    const retained = (envelope: StoredEnvelope) => floor === undefined || envelope.id >= floor;
    const beyondRetention = floor !== undefined && since < floor;
    let buffered: BufferedEnvelope[] = [];
    try {
      buffered = await this.recent.readBack(room, since);
      const missed = beyondRetention ? undefined : missedFromBuffer(buffered, since);
      if (missed) {
        this.deps.metrics.recoveries.inc({ path: 'buffer' });
        // The buffer is newest first: the entries before `since`'s are what was delivered after it.
        const after = buffered.findIndex((entry) => entry.envelope.id === since);
        const kept = missed.filter(retained);
        return this.answer(kept, Math.max(0, kept.length - after), maxAnswerBytes, true);
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, room }, 'recent-history buffer unreadable');
    }
    this.deps.metrics.recoveries.inc({ path: 'postgres' });
    const { cursor, stored, answered } = await this.fromPostgres(
      room,
      since,
      floor,
      maxAnswerBytes,
      buffered,
    );
    const fresh = buffered
      .slice()
      .reverse()
      .map((entry) => entry.envelope)
      .filter((envelope) => isAfterCursor(envelope, cursor) && retained(envelope));
    const merged = reorderedFirst(mergeMissed(stored.envelopes, fresh, this.limit), cursor);
    return this.answer(
      merged.missed,
      merged.reordered,
      maxAnswerBytes,
      answered && !beyondRetention && !stored.cut,
    );
  }

  /**
   * The newest `limit` of `missed` that fit in one answer. Complete only when nothing after `since`
   * was left out: not by the answer's bytes, and not possibly by the count (a full `limit` may have
   * been cut there). The first `reordered` envelopes (the window before `since`, which the client
   * most likely has) may be cut without that.
   */
  private answer(
    missed: StoredEnvelope[],
    reordered: number,
    maxAnswerBytes: number,
    whole: boolean,
  ): MissedAnswer {
    const counted = missed.slice(Math.max(0, missed.length - this.limit));
    const window = Math.max(0, reordered - (missed.length - counted.length));
    const { list } = newestWithin(counted, maxAnswerBytes);
    const cutAfterSince = counted.length - list.length > window;
    return { missed: list, complete: whole && !cutAfterSince && counted.length - window < this.limit };
  }

  /**
   * Stored history after `since`'s position. When what the buffer holds after that position already
   * overflows one answer, the answer is cut after `since` whatever Postgres holds, and its newest are
   * the buffer's: Postgres is then not read for more (a room of 64 KiB envelopes would otherwise make
   * every such join read one answer's worth there as well, only to cut it away).
   */
  private async fromPostgres(
    room: string,
    since: EnvelopeId,
    floor: EnvelopeId | undefined,
    maxAnswerBytes: number,
    buffered: readonly BufferedEnvelope[],
  ): Promise<{ cursor: HistoryCursor; stored: StoredRead; answered: boolean }> {
    try {
      return await this.reads.read('recovery', async (store) => {
        const cursor = (await store.findCursor(since)) ?? cursorFromId(since);
        if (bytesAfter(buffered, cursor) > maxAnswerBytes) {
          return { cursor, stored: { envelopes: [], cut: true }, answered: true };
        }
        const stored = await store.missedAfter(
          room,
          cursor,
          RECOVERY_REORDER_WINDOW_MS,
          this.limit,
          floor,
          maxAnswerBytes,
        );
        return { cursor, stored, answered: true };
      });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.deps.log.warn({ room, since }, 'recovery without Postgres: answering from the buffer alone');
      return { cursor: cursorFromId(since), stored: { envelopes: [], cut: false }, answered: false };
    }
  }
}

/** Bytes the buffered envelopes strictly after `cursor` would add to an answer. */
function bytesAfter(buffered: readonly BufferedEnvelope[], cursor: HistoryCursor): number {
  return answerBytes(buffered.map((entry) => entry.envelope).filter((e) => isPastCursor(e, cursor)));
}
