import type { RedisClient } from '../redis';
import type { EncodedEnvelope, EnvelopeId } from '../../shared';
import { keys } from '../keyspace';
import { decodeEnvelope } from '../outbox';
import { bufferReadEnough, type BufferedEnvelope } from './recovery-order';

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

// KEYS: the room's stream, the rooms zset (score: last append), the bytes hash (room -> bytes, plus
// the total). ARGV: id, envelope JSON, room, now, then the bounds. Keeps every bound exactly: the
// room's own entries by count and bytes, then the rooms whose buffer expired, then the least recently
// appended rooms while the total is over its bytes or rooms bound.
const APPEND_SCRIPT = `
local stream, rooms, sizes = KEYS[1], KEYS[2], KEYS[3]
local id, json, room, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local maxLen, roomMax, totalMax, maxRooms, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]),
  tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
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
redis.call('XADD', stream, '*', 'i', id, 'e', json)
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
    ...bounds: number[]
  ): Promise<number>;
}

/** Entries read per XREVRANGE while looking for `since`. */
const READ_PAGE = 100;

/**
 * The recent-history buffer in the regional Redis: per room, a stream of the envelopes this region
 * delivered, in the order its nodes delivered them (`RoomDelivery.observe`), bounded per room and in
 * total (`RecentBounds`). It answers reconnects (`join { since }`) without Postgres. Ephemeral
 * envelopes are never buffered. An append is written to Redis at once, before the delivery's emit
 * (its command is on the wire before the adapter's publish to the other nodes), so no node can hand
 * an envelope to a room without the buffer having it first; it never waits on or fails a delivery.
 */
export class RecentHistory {
  private readonly redis: RedisClient & AppendCommand;

  constructor(
    redis: RedisClient,
    private readonly bounds: RecentBounds,
    private readonly onError: (err: Error) => void,
  ) {
    redis.defineCommand('rtRecentAppend', { numberOfKeys: 3, lua: APPEND_SCRIPT });
    this.redis = redis as RedisClient & AppendCommand;
  }

  /** Sends a delivered envelope to its room's buffer now (a failure is reported through `onError`). */
  append({ envelope, json }: EncodedEnvelope): void {
    if (envelope.ephemeral) return;
    const { length, roomMaxBytes, totalMaxBytes, maxRooms, ttlMs } = this.bounds;
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
      )
      .catch((err: Error) => this.onError(err));
  }

  /**
   * Reads the room's buffer newest first, back to `since` and the reorder window before it (see
   * `bufferReadEnough`), or all of it when `since` is not there.
   */
  async readBack(room: string, since: EnvelopeId, windowMs?: number): Promise<BufferedEnvelope[]> {
    const key = keys.recent(room);
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
