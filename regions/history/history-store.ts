import type { EnvelopeId } from '../../shared';
import type { StoredEnvelope } from './stored';

/** A keyset position in a room's history: `(ts, id)`. */
export interface HistoryCursor {
  ts: number;
  id: EnvelopeId;
}

/** What a read answers: envelopes oldest first, and whether the byte budget cut older ones off. */
export interface StoredRead {
  envelopes: StoredEnvelope[];
  cut: boolean;
}

/**
 * A room's stored history: envelopes kept by id (an id is written once however often it is sent),
 * read in keyset order on `(ts, id)`, never by OFFSET. `floor` is the oldest id retention still
 * answers (HISTORY_RETENTION_DAYS): nothing older is ever returned. Reads answer the newest envelopes
 * that fit in `maxAnswerBytes`, oldest first, and say when the budget cut older ones off. Backends:
 * `PostgresHistoryStore` (the node's, on one server) and `MemoryHistoryStore` (in-process tests);
 * `history-store-conformance.ts` runs on both.
 */
export interface HistoryStore {
  /** Writes envelopes given as their JSON text; ids already stored are skipped. Returns the rows written. */
  insert(envelopesJson: readonly string[]): Promise<number>;
  /** The stored position of envelope `id`, or undefined when it is not (yet) stored. */
  findCursor(id: EnvelopeId): Promise<HistoryCursor | undefined>;
  /**
   * Up to `limit` envelopes of `room` before `before` (newest page first), oldest first. An id the
   * store does not hold is placed by its UUIDv7 time.
   */
  pageBefore(
    room: string,
    before: EnvelopeId | undefined,
    limit: number,
    floor?: EnvelopeId,
    maxAnswerBytes?: number,
  ): Promise<StoredRead>;
  /**
   * The newest `limit` envelopes of `room` after `cursor`, oldest first; `reorderWindowMs` also
   * admits envelopes of other origins accepted shortly before it (see `isAfterCursor`).
   */
  missedAfter(
    room: string,
    cursor: HistoryCursor,
    reorderWindowMs: number,
    limit: number,
    floor?: EnvelopeId,
    maxAnswerBytes?: number,
  ): Promise<StoredRead>;
}

/**
 * Where history reads run: `ReadRouting` picks the replica or the primary for each read; a memory
 * store answers every read itself. `kind` names the read in metrics (`page`, `recovery`).
 */
export interface HistoryReads {
  read<T>(kind: string, query: (store: HistoryStore) => Promise<T>): Promise<T>;
}
