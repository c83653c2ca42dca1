import type { RedisClient } from '../redis';
import type { Envelope, EnvelopeId } from '../../shared';
import { decodeEnvelope } from '../outbox';
import { bufferReadEnough, type BufferedEnvelope } from './recovery-order';

/** Key prefix of the per-room buffers: `rt:recent:{room}`, a capped Redis stream. */
export const RECENT_KEY_PREFIX = 'rt:recent:';

/** A buffer of a room nobody published to for this long expires. */
const RECENT_TTL_MS = 24 * 3600 * 1000;

/** Entries read per XREVRANGE while looking for `since`. */
const READ_PAGE = 100;

/**
 * The recent-history buffer in the regional Redis: per room, a stream capped at `length`
 * entries, appended in the order this region's nodes delivered (`RoomDelivery.observe`). It answers
 * reconnects (`join { since }`) without Postgres. Appends go through one connection per node, so they
 * keep that node's delivery order; they never wait on or fail a delivery.
 */
export class RecentHistory {
  constructor(
    private readonly redis: RedisClient,
    private readonly length: number,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Appends a delivered envelope (fire and forget; a failure is reported through `onError`). */
  append(envelope: Envelope): void {
    const key = RECENT_KEY_PREFIX + envelope.room;
    this.redis
      .pipeline()
      .xadd(key, 'MAXLEN', this.length, '*', 'i', envelope.id, 'e', JSON.stringify(envelope))
      .pexpire(key, RECENT_TTL_MS)
      .exec()
      .then((results) => {
        const failed = results?.find(([err]) => err);
        if (failed?.[0]) this.onError(failed[0]);
      })
      .catch((err: Error) => this.onError(err));
  }

  /**
   * Reads the room's buffer newest first, back to `since` and the reorder window before it (see
   * `bufferReadEnough`), or all of it when `since` is not there.
   */
  async readBack(room: string, since: EnvelopeId, windowMs?: number): Promise<BufferedEnvelope[]> {
    const key = RECENT_KEY_PREFIX + room;
    const entries: BufferedEnvelope[] = [];
    let end = '+';
    for (;;) {
      const page = await this.redis.xrevrange(key, end, '-', 'COUNT', READ_PAGE);
      for (const [streamId, fields] of page) {
        const envelope = decodeEnvelope(fields);
        if (envelope) entries.push({ deliveredAt: Number(streamId.split('-')[0]), envelope });
      }
      const last = page[page.length - 1];
      if (!last || page.length < READ_PAGE || bufferReadEnough(entries, since, windowMs)) return entries;
      end = `(${last[0]}`;
    }
  }
}
