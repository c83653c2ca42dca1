import type { EncodedEnvelope, Envelope, EnvelopeText } from '../../shared';

/** A position in one shard of the bus: a Redis stream id `ms-seq`, ordered numerically. */
export type BusEntryId = string;

/**
 * One entry read from the bus: its envelope with the JSON it was appended as, which delivery passes
 * on as it is (its `data` is decoded only if something reads it). `envelope` is undefined when the
 * entry could not be decoded.
 */
export interface BusEntry {
  id: BusEntryId;
  shard: number;
  envelope: EncodedEnvelope | undefined;
}

/** Where a consumer group stands in a shard, and what trimming removed from it. */
export interface GroupPosition {
  /** The last entry handed to any consumer of the group ('0-0' when none). */
  lastDeliveredId: BusEntryId;
  /** The greatest id `trim` removed from the shard ('0-0' when nothing was removed). */
  trimmedThroughId: BusEntryId;
  /** Whether the shard holds entries not yet handed to the group. */
  hasUndelivered: boolean;
}

/** How a region's consumer group relates to the retained part of a shard. */
export type GroupStanding = 'current' | 'late' | 'fallen-behind';

/** How much of each shard the bus keeps at most, acknowledged or not (see `InboundBus.trim`). */
export interface BusRetention {
  /** Entries kept per shard, at most (after a `trim`). */
  maxLen: number;
  /** Entries older than this are removed by `trim`. */
  maxAgeMs: number;
}

/** Thrown by reads when the group does not exist (e.g. the global Redis came back empty). */
export class BusGroupMissingError extends Error {
  constructor(shard: number, group: string) {
    super(`consumer group ${group} does not exist on shard ${shard}`);
    this.name = 'BusGroupMissingError';
  }
}

export interface ReadOptions {
  count: number;
  /** How long to wait for new entries when there are none (0: return at once). */
  blockMs: number;
  /** Ends a waiting read early with no entries. */
  signal?: AbortSignal | undefined;
}

/**
 * A region's inbound bus: `shardCount` ordered logs that other regions append to, an envelope going
 * to the shard of its room, each read by a consumer group (the region's) in which every entry is
 * handed to one consumer and stays pending to it until acknowledged. Order is kept within a shard,
 * hence per room and origin. Every backend `implements InboundBus` and passes the same conformance
 * suite (tests/bus).
 */
export interface InboundBus {
  readonly shardCount: number;
  /** The shard an envelope of `room` goes to; the same in every region for the same shard count. */
  shardOf(room: string): number;
  /**
   * Appends envelopes in the given order, returns their entry ids. When it rejects, a prefix may have
   * been appended: callers retry the whole batch and consumers drop the duplicates by envelope id.
   */
  publish(envelopes: readonly (Envelope | EncodedEnvelope | EnvelopeText)[]): Promise<BusEntryId[]>;
  /** Creates `group` on `shard` if missing: from the start of the shard (`all`) or from now (`new`). */
  ensureGroup(shard: number, group: string, from: 'all' | 'new'): Promise<void>;
  /** Entries never handed to `group`, now handed to `consumer` (they stay pending until `ack`). */
  readNew(shard: number, group: string, consumer: string, options: ReadOptions): Promise<BusEntry[]>;
  /** Entries pending to `consumer` (handed out, not acknowledged), oldest first. */
  readPending(shard: number, group: string, consumer: string, count: number): Promise<BusEntry[]>;
  /**
   * Takes over entries pending to any consumer of `group` for at least `minIdleMs`, oldest first;
   * they become pending to `consumer`. Entries trimmed away meanwhile are acknowledged and dropped.
   */
  claim(
    shard: number,
    group: string,
    consumer: string,
    minIdleMs: number,
    count: number,
  ): Promise<BusEntry[]>;
  ack(shard: number, group: string, ids: readonly BusEntryId[]): Promise<void>;
  position(shard: number, group: string): Promise<GroupPosition>;
  /**
   * Trims every shard (or `shards`): removes the entries every consumer group on it has
   * acknowledged (before each group's oldest pending entry and up to its last-delivered one; nothing
   * on that ground while the shard has no group), then applies the retention bound: entries older
   * than `maxAgeMs` and the oldest beyond `maxLen`, acknowledged or not. Records the greatest removed
   * id (see `groupStanding`) and returns how many entries were removed. Between two calls a shard
   * holds what arrived meanwhile, and may grow past `maxLen` by it.
   */
  trim(now?: number, shards?: readonly number[]): Promise<number>;
  close(): Promise<void>;
}

/**
 * Tells a group that is merely behind (`late`: entries wait for it) from one that trimming overtook
 * (`fallen-behind`: entries were removed before the group was handed them, so they are lost to it).
 */
export function groupStanding(position: GroupPosition): GroupStanding {
  if (compareEntryIds(position.lastDeliveredId, position.trimmedThroughId) < 0) return 'fallen-behind';
  return position.hasUndelivered ? 'late' : 'current';
}

/** The time a stream entry was appended (ms since the epoch, by its Redis's clock): its id's first part. */
export function entryTimeMs(id: BusEntryId): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/** Compares stream ids `ms-seq` numerically. */
export function compareEntryIds(a: BusEntryId, b: BusEntryId): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/**
 * FNV-1a over the room name's UTF-16 code units, modulo the shard count. Stable across processes
 * and regions (unlike a seeded hash), which the per-room order depends on.
 */
export function shardOfRoom(room: string, shardCount: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < room.length; i++) {
    hash ^= room.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shardCount;
}
