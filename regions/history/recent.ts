import type { EncodedEnvelope, EnvelopeId } from '../../shared';
import type { BufferedEnvelope } from './recovery-order';

/** How much the recent-history buffers of a region may hold, per room and in total. */
export interface RecentBounds {
  /** Envelopes kept per room. */
  length: number;
  /** Bytes of envelope JSON kept per room (older entries are dropped first). */
  roomMaxBytes: number;
  /** Bytes of envelope JSON kept over all rooms (the least recently appended rooms are dropped). */
  totalMaxBytes: number;
  /** Rooms with a buffer (the least recently appended rooms are dropped). */
  maxRooms: number;
  /** A room's buffer expires this long after its last append. */
  ttlMs: number;
}

/**
 * The region's recent-history buffer: per room, the envelopes this region delivered, in the order
 * its nodes delivered them (`RoomDelivery.observe`), bounded per room and in total (`RecentBounds`).
 * It answers reconnects (`join { since }`) without Postgres. Ephemeral envelopes are never buffered.
 * Backends: `RedisRecentHistory` (the node's, in the regional Redis) and `MemoryRecentHistory`
 * (in-process tests); `recent-conformance.ts` runs on both.
 */
export interface RecentHistory {
  /**
   * Adds delivered envelopes, in delivery order, to their rooms' buffers (each as if appended alone),
   * called before the deliveries' emit: the append is under way before any other node can hand the
   * envelopes out. Never waits on or fails the delivery.
   */
  append(delivered: readonly EncodedEnvelope[]): void;
  /** Resolves once every append queued so far is written (or has failed and been reported). */
  settled(): Promise<void>;
  /**
   * The room's buffer newest first, back to `since` and the reorder window before it (see
   * `bufferReadEnough`), or all of it when `since` is not there.
   */
  readBack(room: string, since: EnvelopeId, windowMs?: number): Promise<BufferedEnvelope[]>;
}
