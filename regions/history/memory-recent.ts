import type { EncodedEnvelope, EnvelopeId } from '../../shared';
import type { RecentBounds, RecentHistory } from './recent';
import { bufferReadEnough, type BufferedEnvelope } from './recovery-order';
import { storedEnvelope } from './stored';

interface RoomBuffer {
  entries: { deliveredAt: number; encoded: EncodedEnvelope; bytes: number }[];
  bytes: number;
  lastAppendAt: number;
}

/**
 * The recent-history buffer in memory, for in-process tests and embedding: the same bounds as
 * `RedisRecentHistory` (`recent-conformance.ts` runs on both). Appends are written at once.
 */
export class MemoryRecentHistory implements RecentHistory {
  /** Rooms in the order of their last append (a Map keeps insertion order; an append moves the room last). */
  private readonly rooms = new Map<string, RoomBuffer>();
  private totalBytes = 0;

  constructor(
    private readonly bounds: RecentBounds,
    private readonly now: () => number = Date.now,
  ) {}

  append(delivered: readonly EncodedEnvelope[]): void {
    for (const one of delivered) this.appendOne(one);
  }

  private appendOne(delivered: EncodedEnvelope): void {
    if (delivered.envelope.ephemeral) return;
    const now = this.now();
    this.dropExpired(now);
    const { room } = delivered.envelope;
    const buffer = this.rooms.get(room) ?? { entries: [], bytes: 0, lastAppendAt: now };
    this.rooms.delete(room);
    this.rooms.set(room, buffer);
    buffer.lastAppendAt = now;
    const bytes = delivered.json.length;
    buffer.entries.push({ deliveredAt: now, encoded: delivered, bytes });
    buffer.bytes += bytes;
    this.totalBytes += bytes;
    while (buffer.entries.length > this.bounds.length || buffer.bytes > this.bounds.roomMaxBytes) {
      const oldest = buffer.entries.shift()!;
      buffer.bytes -= oldest.bytes;
      this.totalBytes -= oldest.bytes;
    }
    for (const name of this.rooms.keys()) {
      if (this.totalBytes <= this.bounds.totalMaxBytes && this.rooms.size <= this.bounds.maxRooms) break;
      if (name !== room) this.drop(name);
    }
  }

  async settled(): Promise<void> {}

  async readBack(room: string, since: EnvelopeId, windowMs?: number): Promise<BufferedEnvelope[]> {
    this.dropExpired(this.now());
    const entries = this.rooms.get(room)?.entries ?? [];
    const newestFirst: BufferedEnvelope[] = [];
    for (let i = entries.length - 1; i >= 0; i--) {
      const { deliveredAt, encoded } = entries[i]!;
      newestFirst.push({ deliveredAt, envelope: storedEnvelope(encoded.envelope, encoded.json) });
      if (bufferReadEnough(newestFirst, since, windowMs)) break;
    }
    return newestFirst;
  }

  private dropExpired(now: number): void {
    for (const [name, buffer] of this.rooms) {
      if (buffer.lastAppendAt + this.bounds.ttlMs <= now) this.drop(name);
    }
  }

  private drop(name: string): void {
    this.totalBytes -= this.rooms.get(name)?.bytes ?? 0;
    this.rooms.delete(name);
  }
}
