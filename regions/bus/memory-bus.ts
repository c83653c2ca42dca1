import {
  envelopeText,
  parseEnvelope,
  type EncodedEnvelope,
  type Envelope,
  type EnvelopeText,
} from '../../shared';
import { BusGroupMissingError, compareEntryIds, shardOfRoom } from './bus';
import type { BusEntry, BusEntryId, BusRetention, InboundBus, GroupPosition, ReadOptions } from './bus';

interface PendingEntry {
  consumer: string;
  deliveredAt: number;
}

interface MemoryGroup {
  lastDeliveredId: BusEntryId;
  pending: Map<BusEntryId, PendingEntry>;
}

interface MemoryShard {
  /** Each entry as the JSON it was appended as (the Redis bus keeps those bytes too). */
  entries: { id: BusEntryId; json: string }[];
  groups: Map<string, MemoryGroup>;
  trimmedThroughId: BusEntryId;
  waiters: Set<() => void>;
}

/**
 * The bus in one process, for unit tests and an embedded single-region mode. Same semantics as the
 * Redis Streams backend.
 */
export class MemoryBus implements InboundBus {
  private readonly shards: MemoryShard[];
  private lastMs = 0;
  private lastSeq = 0;

  constructor(
    readonly shardCount: number,
    private readonly retention: BusRetention = { maxLen: 100_000, maxAgeMs: 24 * 3600_000 },
  ) {
    this.shards = Array.from({ length: shardCount }, () => ({
      entries: [],
      groups: new Map(),
      trimmedThroughId: '0-0',
      waiters: new Set(),
    }));
  }

  shardOf(room: string): number {
    return shardOfRoom(room, this.shardCount);
  }

  async publish(appended: readonly (Envelope | EncodedEnvelope | EnvelopeText)[]): Promise<BusEntryId[]> {
    const ids: BusEntryId[] = [];
    for (const item of appended) {
      const { head, json } = envelopeText(item);
      const shard = this.shards[this.shardOf(head.room)]!;
      const id = this.nextId();
      shard.entries.push({ id, json });
      for (const wake of shard.waiters) wake();
      ids.push(id);
    }
    return ids;
  }

  async ensureGroup(shard: number, group: string, from: 'all' | 'new'): Promise<void> {
    const s = this.shard(shard);
    if (s.groups.has(group)) return;
    s.groups.set(
      group,
      from === 'new'
        ? { lastDeliveredId: s.entries.at(-1)?.id ?? '0-0', pending: new Map() }
        : { lastDeliveredId: '0-0', pending: new Map() },
    );
  }

  async readNew(shard: number, group: string, consumer: string, options: ReadOptions): Promise<BusEntry[]> {
    const s = this.shard(shard);
    let entries = this.handOut(s, shard, group, consumer, options.count);
    if (entries.length > 0 || options.blockMs <= 0) return entries;
    await this.waitForEntry(s, options.blockMs, options.signal);
    entries = options.signal?.aborted ? [] : this.handOut(s, shard, group, consumer, options.count);
    return entries;
  }

  async readPending(shard: number, group: string, consumer: string, count: number): Promise<BusEntry[]> {
    const s = this.shard(shard);
    const g = this.group(s, shard, group);
    const ids = [...g.pending].filter(([, p]) => p.consumer === consumer).map(([id]) => id);
    return this.entriesFor(s, shard, g, ids.sort(compareEntryIds).slice(0, count));
  }

  async claim(
    shard: number,
    group: string,
    consumer: string,
    minIdleMs: number,
    count: number,
  ): Promise<BusEntry[]> {
    const s = this.shard(shard);
    const g = this.group(s, shard, group);
    const now = Date.now();
    const ids = [...g.pending]
      .filter(([, p]) => now - p.deliveredAt >= minIdleMs)
      .map(([id]) => id)
      .sort(compareEntryIds)
      .slice(0, count);
    for (const id of ids) g.pending.set(id, { consumer, deliveredAt: now });
    return this.entriesFor(s, shard, g, ids);
  }

  async ack(shard: number, group: string, ids: readonly BusEntryId[]): Promise<void> {
    const g = this.shard(shard).groups.get(group);
    for (const id of ids) g?.pending.delete(id);
  }

  async position(shard: number, group: string): Promise<GroupPosition> {
    const s = this.shard(shard);
    const g = this.group(s, shard, group);
    const hasUndelivered = s.entries.some((e) => compareEntryIds(e.id, g.lastDeliveredId) > 0);
    return { lastDeliveredId: g.lastDeliveredId, trimmedThroughId: s.trimmedThroughId, hasUndelivered };
  }

  async trim(now = Date.now(), shards?: readonly number[]): Promise<number> {
    let removed = 0;
    for (const s of shards ? shards.map((n) => this.shard(n)) : this.shards) {
      const expired = s.entries.findIndex((e) => Number(e.id.split('-')[0]) >= now - this.retention.maxAgeMs);
      const drop = Math.max(
        expired < 0 ? s.entries.length : expired,
        s.entries.length - this.retention.maxLen,
        acknowledgedPrefix(s),
      );
      if (drop <= 0) continue;
      s.trimmedThroughId = s.entries[drop - 1]!.id;
      s.entries.splice(0, drop);
      removed += drop;
    }
    return removed;
  }

  async close(): Promise<void> {
    for (const s of this.shards) for (const wake of s.waiters) wake();
  }

  private handOut(s: MemoryShard, shard: number, group: string, consumer: string, count: number): BusEntry[] {
    const g = this.group(s, shard, group);
    const fresh = s.entries.filter((e) => compareEntryIds(e.id, g.lastDeliveredId) > 0).slice(0, count);
    const now = Date.now();
    for (const entry of fresh) g.pending.set(entry.id, { consumer, deliveredAt: now });
    if (fresh.length > 0) g.lastDeliveredId = fresh.at(-1)!.id;
    return fresh.map((e) => ({ id: e.id, shard, envelope: decodeAppended(e.json) }));
  }

  /** Pending entries still in the shard; those trimmed away are dropped from the pending list. */
  private entriesFor(s: MemoryShard, shard: number, g: MemoryGroup, ids: BusEntryId[]): BusEntry[] {
    const byId = new Map(s.entries.map((e) => [e.id, e.json]));
    const entries: BusEntry[] = [];
    for (const id of ids) {
      const json = byId.get(id);
      if (json !== undefined) entries.push({ id, shard, envelope: decodeAppended(json) });
      else g.pending.delete(id);
    }
    return entries;
  }

  private waitForEntry(s: MemoryShard, blockMs: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        s.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, blockMs);
      s.waiters.add(done);
      signal?.addEventListener('abort', done);
    });
  }

  private nextId(): BusEntryId {
    const now = Date.now();
    if (now > this.lastMs) [this.lastMs, this.lastSeq] = [now, 0];
    else this.lastSeq++;
    return `${this.lastMs}-${this.lastSeq}`;
  }

  private shard(shard: number): MemoryShard {
    const s = this.shards[shard];
    if (!s) throw new RangeError(`shard ${shard} is out of 0..${this.shardCount - 1}`);
    return s;
  }

  private group(s: MemoryShard, shard: number, group: string): MemoryGroup {
    const g = s.groups.get(group);
    if (!g) throw new BusGroupMissingError(shard, group);
    return g;
  }
}

/**
 * How many of the shard's oldest entries every group has acknowledged: those before each group's
 * oldest pending entry and up to its last-delivered one. None without a group (a group created
 * later reads the shard from its start).
 */
function acknowledgedPrefix(s: MemoryShard): number {
  if (s.groups.size === 0) return 0;
  let count = s.entries.length;
  for (const g of s.groups.values()) {
    const oldestPending = [...g.pending.keys()].sort(compareEntryIds)[0];
    const kept = s.entries.findIndex(
      (e) =>
        compareEntryIds(e.id, g.lastDeliveredId) > 0 ||
        (oldestPending !== undefined && compareEntryIds(e.id, oldestPending) >= 0),
    );
    count = Math.min(count, kept < 0 ? s.entries.length : kept);
  }
  return count;
}

/** An entry's envelope, a fresh copy per read, with the JSON it was appended as. */
function decodeAppended(json: string): EncodedEnvelope | undefined {
  const envelope = parseEnvelope(json);
  return envelope && { envelope, json };
}
