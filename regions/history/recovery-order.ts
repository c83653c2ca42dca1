import type { EnvelopeId } from '../../shared';
import type { EnvelopeOrder, StoredEnvelope } from './stored';
import type { HistoryCursor } from './store';

/**
 * How far before `since` recovery also looks for envelopes of *other* origins. Order is kept per
 * (origin, room) in every region, but two origins interleave differently in different regions (each
 * sees its own envelopes first), so a client that failed over from another region may not have seen
 * an envelope this region delivered shortly before `since`. Those are included; the SDK drops the ones
 * the client already has by id.
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
 * everything delivered after `since`, preceded by other-origin envelopes delivered within
 * `windowMs` before it. Undefined when `since` is not in the buffer.
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
    .filter(
      (entry) =>
        entry.deliveredAt >= anchor.deliveredAt - windowMs &&
        entry.envelope.origin !== anchor.envelope.origin,
    )
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

/**
 * Whether `envelope` comes after `cursor` for recovery: later in `(ts, id)` order, or of another
 * origin and accepted less than `windowMs` before it. The same rule as the SQL of `missedAfter`.
 */
export function isAfterCursor(
  envelope: EnvelopeOrder,
  cursor: HistoryCursor,
  windowMs: number = RECOVERY_REORDER_WINDOW_MS,
): boolean {
  if (envelope.id === cursor.id) return false;
  if (envelope.ts > cursor.ts || (envelope.ts === cursor.ts && envelope.id > cursor.id)) return true;
  return envelope.ts >= cursor.ts - windowMs && envelope.origin !== cursor.origin;
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
