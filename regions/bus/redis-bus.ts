import { duplicateClient, type RedisClient } from '../redis';
import { holdRedisWritesThisTurn } from '../turn-writes';
import {
  decodeEntryText,
  encodedFromText,
  entryFields,
  envelopeText,
  type EncodedEnvelope,
  type Envelope,
  type EnvelopeText,
} from '../../shared';
import { busKeys } from './keys';
import { BusGroupMissingError, shardOfRoom } from './bus';
import type { BusEntry, BusEntryId, BusRetention, InboundBus, GroupPosition, ReadOptions } from './bus';

/** The stream of one inbound shard in a region's Redis. */
export function inboundStreamKey(shard: number): string {
  return busKeys.inbound(shard);
}

type RawEntry = [id: string, fields: string[] | null];
type RawRead = [key: string, entries: RawEntry[]][] | null;

/** A waiting read that the server has not answered this long after its block time is given up. */
const READ_DEADLINE_MARGIN_MS = 5_000;

// Trims one shard: below what every consumer group on it has acknowledged (its oldest pending entry,
// or the entry after its last-delivered one), and further by age and length, and records the
// greatest id removed, which Redis does not keep for trims: a group whose last-delivered id is below
// it has lost entries. Without any group nothing is trimmed by acknowledgement (a group created later
// reads the shard from its start). The length trim removes at most 10k entries per call, so one call
// never blocks Redis for long; the next call continues.
const TRIM_SCRIPT = `
local function parse(id)
  local ms, seq = string.match(id, '(%d+)-(%d+)')
  return tonumber(ms), tonumber(seq)
end
local function before(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  if am ~= bm then return am < bm end
  return as < bs
end
local function after(id)
  local ms, seq = string.match(id, '(%d+)-(%d+)')
  return ms .. '-' .. string.format('%d', tonumber(seq) + 1)
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local floor = ARGV[1]
local acked = nil
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, last
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] elseif group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
  local pending = redis.call('XPENDING', KEYS[1], name)
  local kept = after(last)
  if pending[1] > 0 and pending[2] then kept = pending[2] end
  if acked == nil or before(kept, acked) then acked = kept end
end
if acked and before(floor, acked) then floor = acked end
local excess = math.min(redis.call('XLEN', KEYS[1]) - tonumber(ARGV[2]), 10000)
if excess > 0 then
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess + 1)
  local firstKept = oldest[#oldest][1]
  if before(floor, firstKept) then floor = firstKept end
end
local lastRemoved = redis.call('XREVRANGE', KEYS[1], '(' .. floor, '-', 'COUNT', 1)
if #lastRemoved == 0 then return 0 end
local removed = redis.call('XTRIM', KEYS[1], 'MINID', floor)
redis.call('SET', KEYS[2], lastRemoved[1][1])
return removed`;

export interface RedisStreamsBusOptions {
  shardCount: number;
  retention: BusRetention;
}

/**
 * A region's inbound shards on Redis Streams: one stream per shard (`rt:inbound:{n}`) in that
 * region's Redis, consumer groups, XAUTOCLAIM. Origins use it to append (`publish`), the region's
 * nodes to read. Waiting reads use one dedicated connection per shard, so a blocked read never holds
 * up commands of other shards; aborting a read, or a read the server leaves unanswered past its
 * block time, closes its connection (a fresh one is made on the next read).
 */
export class RedisStreamsBus implements InboundBus {
  readonly shardCount: number;
  private readonly retention: BusRetention;
  private readonly readers = new Map<number, RedisClient>();

  /** `client` stays owned by the caller; the bus closes only the read connections it made. */
  constructor(
    private readonly client: RedisClient,
    options: RedisStreamsBusOptions,
  ) {
    this.shardCount = options.shardCount;
    this.retention = options.retention;
  }

  shardOf(room: string): number {
    return shardOfRoom(room, this.shardCount);
  }

  /** Envelopes already encoded (read from the outbox) are appended with their bytes unchanged. */
  async publish(appended: readonly (Envelope | EncodedEnvelope | EnvelopeText)[]): Promise<BusEntryId[]> {
    if (appended.length === 0) return [];
    const encoded = appended.map(envelopeText);
    // One pipeline per shard: on a Redis Cluster each shard's stream is in its own slot, and a
    // pipeline must stay on one node. Each shard's appends keep their order.
    const byShard = new Map<number, number[]>();
    encoded.forEach((item, i) => {
      const shard = this.shardOf(item.head.room);
      const indexes = byShard.get(shard);
      if (indexes) indexes.push(i);
      else byShard.set(shard, [i]);
    });
    const ids: string[] = new Array<string>(appended.length);
    await Promise.all(
      [...byShard].map(async ([shard, indexes]) => {
        const pipeline = this.client.pipeline();
        for (const i of indexes) pipeline.xadd(inboundStreamKey(shard), '*', ...entryFields(encoded[i]!));
        const results = (await pipeline.exec()) ?? [];
        results.forEach(([err, id], n) => {
          const i = indexes[n]!;
          if (err) throw new Error(`inbound append ${i + 1}/${appended.length} failed: ${err.message}`);
          ids[i] = String(id);
        });
      }),
    );
    return ids;
  }

  async ensureGroup(shard: number, group: string, from: 'all' | 'new'): Promise<void> {
    try {
      await this.client.xgroup(
        'CREATE',
        inboundStreamKey(shard),
        group,
        from === 'all' ? '0' : '$',
        'MKSTREAM',
      );
    } catch (err) {
      if (!(err as Error).message.includes('BUSYGROUP')) throw err;
    }
  }

  async readNew(shard: number, group: string, consumer: string, options: ReadOptions): Promise<BusEntry[]> {
    const key = inboundStreamKey(shard);
    const args = ['GROUP', group, consumer, 'COUNT', options.count] as const;
    if (options.blockMs <= 0) {
      const read = this.client.xreadgroup(...args, 'STREAMS', key, '>') as Promise<RawRead>;
      return this.decode(shard, await this.guard(shard, group, read));
    }
    const reader = this.reader(shard);
    if (options.signal?.aborted) return [];
    // An aborted read settles here, empty, rather than when the client settles it: ioredis never
    // settles commands queued while it was reconnecting if it is disconnected then, and a consumer
    // waiting for such a read would hang (and with it the node's shard assignment). What the server
    // already handed to this consumer stays pending either way.
    let onAbort = () => undefined as void;
    let deadline: NodeJS.Timeout | undefined;
    const aborted = new Promise<null>((resolve, reject) => {
      const close = () => {
        if (this.readers.get(shard) === reader) this.readers.delete(shard);
        reader.disconnect();
      };
      onAbort = () => {
        close();
        resolve(null);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      // A hung Redis (frozen, or a link that drops packets) must not hold the consumer: give up.
      deadline = setTimeout(() => {
        close();
        reject(new Error(`inbound shard ${shard} read unanswered after ${options.blockMs} ms`));
      }, options.blockMs + READ_DEADLINE_MARGIN_MS);
    });
    aborted.catch(() => undefined);
    try {
      // Reads topped up together leave in one write.
      holdRedisWritesThisTurn(reader);
      const read =
        this.client.status === 'ready'
          ? (reader.xreadgroup(...args, 'BLOCK', options.blockMs, 'STREAMS', key, '>') as Promise<RawRead>)
          : Promise.reject(new Error('global Redis unavailable'));
      const guarded = this.guard(shard, group, read);
      guarded.catch(() => undefined); // settled by the race below, or ignored once aborted
      const raw = await Promise.race([guarded, aborted]);
      return raw === null && options.signal?.aborted ? [] : this.decode(shard, raw);
    } catch (err) {
      if (options.signal?.aborted) return [];
      throw err;
    } finally {
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async readPending(shard: number, group: string, consumer: string, count: number): Promise<BusEntry[]> {
    const key = inboundStreamKey(shard);
    const read = this.client.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', key, '0');
    const raw = await this.guard(shard, group, read as Promise<RawRead>);
    const entries = raw?.[0]?.[1] ?? [];
    // An entry trimmed away while pending comes back without fields: nothing left to deliver.
    const gone = entries.filter(([, fields]) => fields === null).map(([id]) => id);
    if (gone.length > 0) await this.ack(shard, group, gone);
    return this.decode(shard, raw).filter((e) => !gone.includes(e.id));
  }

  async claim(
    shard: number,
    group: string,
    consumer: string,
    minIdleMs: number,
    count: number,
  ): Promise<BusEntry[]> {
    const key = inboundStreamKey(shard);
    const claimed: BusEntry[] = [];
    let cursor = '0-0';
    do {
      const reply = this.client.xautoclaim(
        key,
        group,
        consumer,
        minIdleMs,
        cursor,
        'COUNT',
        count - claimed.length,
      );
      const [next, entries] = (await this.guard(shard, group, reply)) as [string, RawEntry[], string[]];
      claimed.push(...this.decodeEntries(shard, entries));
      cursor = next;
    } while (cursor !== '0-0' && claimed.length < count);
    return claimed;
  }

  async ack(shard: number, group: string, ids: readonly BusEntryId[]): Promise<void> {
    if (ids.length > 0) await this.client.xack(inboundStreamKey(shard), group, ...ids);
  }

  async position(shard: number, group: string): Promise<GroupPosition> {
    const key = inboundStreamKey(shard);
    const groups = await this.guard(shard, group, this.client.xinfo('GROUPS', key) as Promise<unknown[][]>);
    const info = groups.map(toRecord).find((g) => g.name === group);
    if (!info) throw new BusGroupMissingError(shard, group);
    const lastDeliveredId = String(info['last-delivered-id']);
    const [next, trimmedThroughId] = await Promise.all([
      this.client.xrange(key, `(${lastDeliveredId}`, '+', 'COUNT', 1),
      this.client.get(busKeys.inboundTrimmed(shard)),
    ]);
    return { lastDeliveredId, trimmedThroughId: trimmedThroughId ?? '0-0', hasUndelivered: next.length > 0 };
  }

  async trim(now = Date.now(), shards?: readonly number[]): Promise<number> {
    let removed = 0;
    const ageFloor = `${Math.max(0, now - this.retention.maxAgeMs)}-0`;
    for (const shard of shards ?? Array.from({ length: this.shardCount }, (_, n) => n)) {
      const keys = [inboundStreamKey(shard), busKeys.inboundTrimmed(shard)];
      removed += Number(await this.client.eval(TRIM_SCRIPT, 2, ...keys, ageFloor, this.retention.maxLen));
    }
    return removed;
  }

  async close(): Promise<void> {
    for (const reader of this.readers.values()) reader.disconnect();
    this.readers.clear();
  }

  private reader(shard: number): RedisClient {
    let reader = this.readers.get(shard);
    if (!reader) {
      reader = duplicateClient(this.client, `inbound-reader-${shard}`, {
        enableOfflineQueue: true,
        maxRetriesPerRequest: 1,
        // Blocking reads outlast a command client's deadline; `readNew` keeps its own.
        commandTimeout: undefined,
      });
      // Failures surface through the read's rejection; the event would only be an unhandled error.
      reader.on('error', () => undefined);
      this.readers.set(shard, reader);
    }
    return reader;
  }

  private async guard<T>(shard: number, group: string, reply: Promise<T>): Promise<T> {
    try {
      return await reply;
    } catch (err) {
      const message = (err as Error).message;
      if (message.includes('NOGROUP') || message.includes('no such key'))
        throw new BusGroupMissingError(shard, group);
      throw err;
    }
  }

  private decode(shard: number, raw: RawRead): BusEntry[] {
    return this.decodeEntries(shard, raw?.[0]?.[1] ?? []);
  }

  private decodeEntries(shard: number, entries: RawEntry[]): BusEntry[] {
    return entries
      .filter(([, fields]) => fields !== null)
      .map(([id, fields]) => {
        // Only the fields besides `data` are parsed: the entry's JSON is delivered as it is.
        const text = decodeEntryText(fields!);
        return { id, shard, envelope: text && encodedFromText(text) };
      });
  }
}

function toRecord(flat: unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}
