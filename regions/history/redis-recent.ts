import type { RedisClient } from '../redis';
import type { EncodedEnvelope, EnvelopeId } from '../../shared';
import { keys } from '../keyspace';
import { decodeEnvelope } from '../outbox';
import type { RecentBounds, RecentHistory } from './recent';
import { bufferReadEnough, type BufferedEnvelope } from './recovery-order';

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
 * delivered, each bound kept exactly by one script per append. Appends leave the delivery path at
 * once: they are queued and sent together after the current turn of the event loop, through one
 * connection per node, so they keep that node's delivery order; they never wait on or fail a delivery.
 */
export class RedisRecentHistory implements RecentHistory {
  private readonly redis: RedisClient & AppendCommand;
  private queued: EncodedEnvelope[] = [];
  private sending: Promise<void> = Promise.resolve();

  constructor(
    redis: RedisClient,
    private readonly bounds: RecentBounds,
    private readonly onError: (err: Error) => void,
  ) {
    redis.defineCommand('rtRecentAppend', { numberOfKeys: 3, lua: APPEND_SCRIPT });
    this.redis = redis as RedisClient & AppendCommand;
  }

  /** Queues a delivered envelope for its room's buffer (a failure is reported through `onError`). */
  append(delivered: EncodedEnvelope): void {
    if (delivered.envelope.ephemeral) return;
    if (this.queued.push(delivered) > 1) return;
    const previous = this.sending;
    this.sending = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.send())
      .then(() => previous);
  }

  settled(): Promise<void> {
    return this.sending;
  }

  private send(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    const { length, roomMaxBytes, totalMaxBytes, maxRooms, ttlMs } = this.bounds;
    const pipeline = this.redis.pipeline() as ReturnType<RedisClient['pipeline']> & AppendCommand;
    const now = Date.now();
    for (const { envelope, json } of batch) {
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
      );
    }
    return pipeline
      .exec()
      .then((results) => {
        const failed = results?.find(([err]) => err);
        if (failed?.[0]) this.onError(failed[0]);
      })
      .catch((err: Error) => this.onError(err));
  }

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
