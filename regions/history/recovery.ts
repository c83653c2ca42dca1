import { ProtocolError, type Envelope, type EnvelopeId } from '../../shared';
import type { Logger } from '../log';
import type { MissedAnswer, MissedMessages } from '../services';
import type { HistoryMetrics } from './metrics';
import type { ReadRouting } from './read-routing';
import type { RecentHistory } from './recent';
import {
  RECOVERY_REORDER_WINDOW_MS,
  isAfterCursor,
  mergeMissed,
  missedFromBuffer,
  reorderedFirst,
  type BufferedEnvelope,
} from './recovery-order';
import { cursorFromId, findCursor, missedAfter, type HistoryCursor } from './store';

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
    private readonly reads: ReadRouting,
    private readonly limit: number,
    private readonly deps: { metrics: HistoryMetrics; log: Logger },
    /** The oldest id history still answers (HISTORY_RETENTION_DAYS), or undefined. */
    private readonly floor: () => EnvelopeId | undefined = () => undefined,
  ) {}

  async missedSince(room: string, since: EnvelopeId | undefined): Promise<MissedAnswer> {
    if (!since) return { missed: [], complete: true, reordered: 0 };
    const floor = this.floor();
    const retained = (envelope: Envelope) => floor === undefined || envelope.id >= floor;
    const beyondRetention = floor !== undefined && since < floor;
    let buffered: BufferedEnvelope[] = [];
    try {
      buffered = await this.recent.readBack(room, since);
      const missed = beyondRetention ? undefined : missedFromBuffer(buffered, since);
      if (missed) {
        this.deps.metrics.recoveries.inc({ path: 'buffer' });
        const kept = missed.filter(retained);
        const answer = kept.slice(Math.max(0, kept.length - this.limit));
        // The buffer is newest first: the entries before `since`'s are what was delivered after it.
        const after = buffered.findIndex((entry) => entry.envelope.id === since);
        return { missed: answer, complete: true, reordered: Math.max(0, answer.length - after) };
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, room }, 'recent-history buffer unreadable');
    }
    this.deps.metrics.recoveries.inc({ path: 'postgres' });
    const { cursor, stored, answered } = await this.fromPostgres(room, since, floor);
    const fresh = buffered
      .slice()
      .reverse()
      .map((entry) => entry.envelope)
      .filter((envelope) => isAfterCursor(envelope, cursor) && retained(envelope));
    const { missed, reordered } = reorderedFirst(mergeMissed(stored, fresh, this.limit), cursor);
    return { missed, reordered, complete: answered && !beyondRetention };
  }

  private async fromPostgres(
    room: string,
    since: EnvelopeId,
    floor: EnvelopeId | undefined,
  ): Promise<{ cursor: HistoryCursor; stored: Envelope[]; answered: boolean }> {
    try {
      return await this.reads.run('recovery', async (sql) => {
        const cursor = (await findCursor(sql, since)) ?? cursorFromId(since);
        const stored = await missedAfter(sql, room, cursor, RECOVERY_REORDER_WINDOW_MS, this.limit, floor);
        return { cursor, stored, answered: true };
      });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.deps.log.warn({ room, since }, 'recovery without Postgres: answering from the buffer alone');
      return { cursor: cursorFromId(since), stored: [], answered: false };
    }
  }
}
