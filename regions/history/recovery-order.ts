import type { EnvelopeId } from '../../shared';
import type { EnvelopeOrder, StoredEnvelope } from './stored';
import type { HistoryCursor } from './history-store';

/**
 * How far before `since` recovery also looks. Order is kept per (origin node, room) only: every node
 * sees its own envelopes first and the others' a little later (over the regional Redis, or the bus
 * for other regions), so the members of one room on different nodes, and in different regions, see
 * envelopes of different publishers interleaved differently. A client that moved to another node or
 * region may not have received an envelope that was delivered shortly before `since` where it reads
 * now; those are included, and the SDK drops the ones the client already has by id.
 */
export const RECOVERY_REORDER_WINDOW_MS = 2_000;

/** An envelope in the regional recent-history buffer, with the time this region delivered it. */
export interface BufferedEnvelope<E extends EnvelopeOrder = StoredEnvelope> {
  /** Milliseconds since the epoch, from the buffer's stream entry id (the regional Redis clock). */
  deliveredAt: number;
  envelope: E;
}

/**
 * What `join { since }` answers from the buffer (given newest first), in this region's delivery order:
 * everything delivered after `since`, preceded by the envelopes delivered within `windowMs` before it.
 * Undefined when `since` is not in the buffer.
 */
export function missedFromBuffer<E extends EnvelopeOrder>(
  newestFirst: readonly BufferedEnvelope<E>[],
  since: EnvelopeId,
  windowMs: number = RECOVERY_REORDER_WINDOW_MS,
): E[] | undefined {
  const index = newestFirst.findIndex((entry) => entry.envelope.id === since);
  const anchor = newestFirst[index];
  if (!anchor) return undefined;
  const after = newestFirst.slice(0, index).reverse();
  const reordered = newestFirst
    .slice(index + 1)
    .filter((entry) => entry.deliveredAt >= anchor.deliveredAt - windowMs)
    .reverse();
  return [...reordered, ...after].map((entry) => entry.envelope);
}

/**
 * Whether a buffer read (newest first, so far) holds everything `missedFromBuffer` needs: `since`
 * and the entries delivered up to `windowMs` before it.
 */
export function bufferReadEnough(
  newestFirst: readonly BufferedEnvelope<EnvelopeOrder>[],
  since: EnvelopeId,
  windowMs: number = RECOVERY_REORDER_WINDOW_MS,
): boolean {
  const anchor = newestFirst.find((entry) => entry.envelope.id === since);
  const oldest = newestFirst[newestFirst.length - 1];
  return anchor !== undefined && oldest !== undefined && oldest.deliveredAt < anchor.deliveredAt - windowMs;
}

/** Whether `envelope` is strictly later than `cursor` in `(ts, id)` order (no reorder window). */
export function isPastCursor(envelope: EnvelopeOrder, cursor: HistoryCursor): boolean {
  return envelope.ts > cursor.ts || (envelope.ts === cursor.ts && envelope.id > cursor.id);
}

/**
 * Whether `envelope` comes after `cursor` for recovery: later in `(ts, id)` order, or accepted less
 * than `windowMs` before it. The same rule as the SQL of `missedAfter`.
 */
export function isAfterCursor(
  envelope: EnvelopeOrder,
  cursor: HistoryCursor,
  windowMs: number = RECOVERY_REORDER_WINDOW_MS,
): boolean {
  if (envelope.id === cursor.id) return false;
  if (isPastCursor(envelope, cursor)) return true;
  return envelope.ts >= cursor.ts - windowMs;
}

/**
 * Stored history after the cursor, then what the buffer holds that is not stored yet (persistence
 * lags behind delivery), without repeats; the newest `limit`, oldest first.
 */
export function mergeMissed<E extends EnvelopeOrder>(
  stored: readonly E[],
  buffered: readonly E[],
  limit: number,
): E[] {
  const storedIds = new Set(stored.map((envelope) => envelope.id));
  const merged = [...stored, ...buffered.filter((envelope) => !storedIds.has(envelope.id))];
  return merged.slice(Math.max(0, merged.length - limit));
}

/**
 * `missed` with the envelopes at or before `cursor` (the reorder window) moved first, stably, and how
 * many they are: the part a byte budget may cut without losing anything the client cannot have.
 */
export function reorderedFirst<E extends EnvelopeOrder>(
  missed: readonly E[],
  cursor: HistoryCursor,
): { missed: E[]; reordered: number } {
  const after = (e: E) => isPastCursor(e, cursor);
  const before = missed.filter((e) => !after(e));
  return { missed: [...before, ...missed.filter(after)], reordered: before.length };
}
