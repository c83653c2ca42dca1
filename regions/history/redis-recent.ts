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
 * delivered, each bound kept exactly by one script per append. An append is written to Redis at once,
 * before the delivery's emit (`RoomDelivery.observe`): its command is on the wire before the adapter's
 * publish to the other nodes, so no node hands an envelope to a room before the buffer has it, and a
 * join that missed it live reads it back. One connection per node keeps that node's delivery order;
 * an append never waits on or fails a delivery. A failed append (its master died, Redis restarts) is
 * tried again before anything appended after it, every APPEND_RETRY_MS for up to APPEND_GIVE_UP_MS,
 * and reported to `onError` with the rooms it concerns each time.
 */
export class RedisRecentHistory implements RecentHistory {
  private readonly redis: RedisClient & AppendCommand;
  /** Appends that failed, in order, waiting for a retry. */
  private failed: QueuedAppend[] = [];
  /** Appends made while some wait for a retry: they go after them, to keep the order. */
  private behind: QueuedAppend[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private inFlight = 0;
  private idle: (() => void)[] = [];

  constructor(
    redis: RedisClient,
    private readonly bounds: RecentBounds,
    private readonly onError: (err: Error, rooms: string[]) => void,
  ) {
    redis.defineCommand('rtRecentAppend', { numberOfKeys: 3, lua: APPEND_SCRIPT });
    this.redis = redis as RedisClient & AppendCommand;
  }

  /** Writes a delivered envelope to its room's buffer now, or behind the appends waiting for a retry. */
  append(delivered: EncodedEnvelope): void {
    if (delivered.envelope.ephemeral) return;
    if (this.failed.length === 0) {
      this.write({ delivered });
      return;
    }
    this.behind.push({ delivered });
    if (this.behind.length > APPEND_QUEUE_MAX) {
      const dropped = this.behind.splice(0, this.behind.length - APPEND_QUEUE_MAX);
      this.onError(new Error('recent-history appends given up: too many waiting'), roomsOf(dropped));
    }
  }

  settled(): Promise<void> {
    if (this.inFlight === 0 && this.failed.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Sends one append (the command is written before this returns); a failure queues it for a retry. */
  private write(append: QueuedAppend): void {
    const { length, roomMaxBytes, totalMaxBytes, maxRooms, ttlMs } = this.bounds;
    const { envelope, json } = append.delivered;
    this.inFlight++;
    this.redis
      .rtRecentAppend(
        keys.recent(envelope.room),
        keys.recentRooms(),
        keys.recentBytes(),
        envelope.id,
        json,
        envelope.room,
        Date.now(),
        length,
        roomMaxBytes,
        totalMaxBytes,
        maxRooms,
        ttlMs,
        envelope.origin,
        envelope.ts,
      )
      .then(
        () => undefined,
        (err: Error) => {
          this.onError(err, [envelope.room]);
          append.failedAt ??= Date.now();
          this.failed.push(append);
          this.retryTimer ??= setTimeout(() => this.retry(), APPEND_RETRY_MS);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.settle();
      });
  }

  /** Tries the failed appends again, in order, with what was appended behind them. */
  private retry(): void {
    this.retryTimer = undefined;
    const now = Date.now();
    const waiting = [...this.failed, ...this.behind];
    this.failed = [];
    this.behind = [];
    const given = waiting.filter((q) => q.failedAt !== undefined && now - q.failedAt >= APPEND_GIVE_UP_MS);
    if (given.length > 0) {
      this.onError(new Error('recent-history appends given up after retrying'), roomsOf(given));
    }
    for (const append of waiting) if (!given.includes(append)) this.write(append);
    this.settle();
  }

  private settle(): void {
    if (this.inFlight > 0 || this.failed.length > 0) return;
    for (const resolve of this.idle.splice(0)) resolve();
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
