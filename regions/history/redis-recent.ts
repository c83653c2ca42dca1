import type { RedisClient } from '../redis';
import { decodeEntry, isEnvelopeId, type EncodedEnvelope, type EnvelopeId } from '../../shared';
import { keys } from '../keyspace';
import type { RecentBounds, RecentHistory } from './recent';
import { bufferReadEnough, type BufferedEnvelope } from './recovery-order';
import { storedEnvelope, type StoredEnvelope } from './stored';

// KEYS: the room's stream, the rooms zset (score: last append), the bytes hash (room -> bytes, plus
// the total). ARGV: id, envelope JSON, room, now, the bounds, then origin and ts. An entry is `i` id,
// `e` JSON, `o` origin, `t` ts: recovery orders entries by the last two without parsing the JSON,
// which stays the 4th field, whose length the bounds count. Keeps every bound exactly: the
// room's own entries by count and bytes, then the rooms whose buffer expired, then the least recently
// appended rooms while the total is over its bytes or rooms bound.
const APPEND_SCRIPT = `
local stream, rooms, sizes = KEYS[1], KEYS[2], KEYS[3]
local id, json, room, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local maxLen, roomMax, totalMax, maxRooms, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]),
  tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local origin, ts = ARGV[10], ARGV[11]
local prefix = string.sub(stream, 1, #stream - #room)
local function held(name) return tonumber(redis.call('HGET', sizes, name) or '0') end
local function add(name, n)
  if n == 0 then return held(name) end
  return redis.call('HINCRBY', sizes, name, n)
end
local function forget(name)
  local total = add('#total', -held(name))
  redis.call('HDEL', sizes, name)
  return total
end
-- a buffer that expired by itself: forget what it held
if not redis.call('ZSCORE', rooms, room) then forget(room) redis.call('DEL', stream) end
redis.call('XADD', stream, '*', 'i', id, 'e', json, 'o', origin, 't', ts)
local bytes = add(room, #json)
local total = add('#total', #json)
while redis.call('XLEN', stream) > maxLen or bytes > roomMax do
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  if not oldest then total = forget(room) bytes = 0 break end
  redis.call('XDEL', stream, oldest[1])
  bytes = add(room, -#oldest[2][4])
  total = add('#total', -#oldest[2][4])
end
redis.call('PEXPIRE', stream, ttl)
redis.call('ZADD', rooms, now, room)
local function drop(name)
  total = forget(name)
  redis.call('ZREM', rooms, name)
  redis.call('DEL', prefix .. name)
end
for _, name in ipairs(redis.call('ZRANGEBYSCORE', rooms, '-inf', now - ttl)) do drop(name) end
while total > totalMax or redis.call('ZCARD', rooms) > maxRooms do
  local name = redis.call('ZRANGE', rooms, 0, 0)[1]
  if not name or name == room then break end
  drop(name)
end
redis.call('PEXPIRE', rooms, ttl)
redis.call('PEXPIRE', sizes, ttl)
return total`;

interface AppendCommand {
  rtRecentAppend(
    stream: string,
    rooms: string,
    sizes: string,
    id: string,
    json: string,
    room: string,
    now: number,
    ...boundsOriginTs: (number | string)[]
  ): Promise<number>;
}

/** Entries read per XREVRANGE while looking for `since`. */
const READ_PAGE = 100;
/** After a failed append, the next try (of it and everything queued behind it) waits this long. */
const APPEND_RETRY_MS = 200;
/** An append that keeps failing this long is given up (recovery then falls back to Postgres). */
const APPEND_GIVE_UP_MS = 15_000;
/** Envelopes waiting to be appended at most; beyond it the oldest are given up. */
const APPEND_QUEUE_MAX = 10_000;

interface QueuedAppend {
  delivered: EncodedEnvelope;
  /** When its first try failed. */
  failedAt?: number;
}

/**
 * The recent-history buffer in the regional Redis: per room, a stream of the envelopes this region
 * delivered, each bound kept exactly by one script per append. Appends leave the delivery path at
 * once: they are queued and sent together after the current turn of the event loop, one pipeline at
 * a time through one connection per node, so they keep that node's delivery order; they never wait
 * on or fail a delivery. A failed append (its master died, Redis restarts) is tried again before
 * anything queued after it, for up to APPEND_GIVE_UP_MS, and reported to `onError` with the rooms
 * it concerns each time.
 */
export class RedisRecentHistory implements RecentHistory {
  private readonly redis: RedisClient & AppendCommand;
  private queued: QueuedAppend[] = [];
  /** A send is scheduled or in flight. */
  private busy = false;
  private idle: (() => void)[] = [];

  constructor(
    redis: RedisClient,
    private readonly bounds: RecentBounds,
    private readonly onError: (err: Error, rooms: string[]) => void,
  ) {
    redis.defineCommand('rtRecentAppend', { numberOfKeys: 3, lua: APPEND_SCRIPT });
    this.redis = redis as RedisClient & AppendCommand;
  }

  /** Queues a delivered envelope for its room's buffer (a failure is reported through `onError`). */
  append(delivered: EncodedEnvelope): void {
    if (delivered.envelope.ephemeral) return;
    this.queued.push({ delivered });
    if (this.queued.length > APPEND_QUEUE_MAX) {
      const dropped = this.queued.splice(0, this.queued.length - APPEND_QUEUE_MAX);
      this.onError(new Error('recent-history appends given up: too many waiting'), roomsOf(dropped));
    }
    if (!this.busy) {
      this.busy = true;
      setImmediate(() => void this.send());
    }
  }

  settled(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async send(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    const failed = await this.appendAll(batch);
    const now = Date.now();
    const retry = failed.filter((q) => now - (q.failedAt ??= now) < APPEND_GIVE_UP_MS);
    if (retry.length < failed.length) {
      const given = failed.filter((q) => !retry.includes(q));
      this.onError(new Error('recent-history appends given up after retrying'), roomsOf(given));
    }
    this.queued = [...retry, ...this.queued];
    if (this.queued.length > 0) {
      if (retry.length > 0) setTimeout(() => void this.send(), APPEND_RETRY_MS);
      else setImmediate(() => void this.send());
      return;
    }
    this.busy = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Sends one pipeline of appends; returns the ones that failed, in order. */
  private async appendAll(batch: QueuedAppend[]): Promise<QueuedAppend[]> {
    const { length, roomMaxBytes, totalMaxBytes, maxRooms, ttlMs } = this.bounds;
    const pipeline = this.redis.pipeline() as ReturnType<RedisClient['pipeline']> & AppendCommand;
    const now = Date.now();
    for (const { delivered } of batch) {
      const { envelope, json } = delivered;
      void pipeline.rtRecentAppend(
        keys.recent(envelope.room),
        keys.recentRooms(),
        keys.recentBytes(),
        envelope.id,
        json,
        envelope.room,
        now,
        length,
        roomMaxBytes,
        totalMaxBytes,
        maxRooms,
        ttlMs,
        envelope.origin,
        envelope.ts,
      );
    }
    try {
      const results = (await pipeline.exec()) ?? [];
      const failed = batch.filter((_, i) => results[i]?.[0]);
      const first = results.find(([err]) => err)?.[0];
      if (first) this.onError(first, roomsOf(failed));
      return failed;
    } catch (err) {
      this.onError(err as Error, roomsOf(batch));
      return batch;
    }
  }

  async readBack(room: string, since: EnvelopeId, windowMs?: number): Promise<BufferedEnvelope[]> {
    const key = keys.recent(room);
    const entries: BufferedEnvelope[] = [];
    let end = '+';
    for (;;) {
      const page = await this.redis.xrevrange(key, end, '-', 'COUNT', READ_PAGE);
      for (const [streamId, fields] of page) {
        const envelope = bufferedEnvelope(fields);
        if (envelope) entries.push({ deliveredAt: Number(streamId.split('-')[0]), envelope });
      }
      const last = page[page.length - 1];
      if (!last || page.length < READ_PAGE || bufferReadEnough(entries, since, windowMs)) return entries;
      end = `(${last[0]}`;
    }
  }
}

/**
 * The envelope of a buffer entry as its JSON text, from its `i`, `e`, `o` and `t` fields (never
 * parsing the JSON). Entries written before `o` and `t` existed are parsed once; anything else
 * unreadable is undefined.
 */
function bufferedEnvelope(fields: readonly string[]): StoredEnvelope | undefined {
  let id: string | undefined;
  let json: string | undefined;
  let origin: string | undefined;
  let ts: number | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]!;
    if (fields[i] === 'i') id = value;
    else if (fields[i] === 'e') json = value;
    else if (fields[i] === 'o') origin = value;
    else if (fields[i] === 't') ts = Number(value);
  }
  if (json === undefined) return undefined;
  if (isEnvelopeId(id) && origin !== undefined && ts !== undefined && Number.isFinite(ts)) {
    return storedEnvelope({ id, origin, ts }, json);
  }
  const decoded = decodeEntry(['e', json])?.envelope;
  return decoded && storedEnvelope(decoded, json);
}

function roomsOf(appends: readonly QueuedAppend[]): string[] {
  return [...new Set(appends.map((q) => q.delivered.envelope.room))];
}
