import type { RedisClient } from '../redis';
import { decodeEntry, isEnvelopeId, type EncodedEnvelope, type EnvelopeId } from '../../shared';
import { shardOfRoom } from '../bus/bus';
import { keys } from '../keyspace';
import type { RecentBounds, RecentHistory } from './recent';
import { bufferReadEnough, type BufferedEnvelope } from './recovery-order';
import { storedEnvelope, type StoredEnvelope } from './stored';

// KEYS: the rooms zset (score: last append), the bytes hash (room -> bytes, plus the total), then
// each envelope's room stream. ARGV: now, the bounds, then id, envelope JSON, room, origin and ts of
// each envelope, in delivery order. An entry is `i` id, `e` JSON, `o` origin, `t` ts: recovery
// orders entries by the last two without parsing the JSON, which stays the 4th field, whose length
// the bounds count. Each envelope is appended exactly as a call of its own would append it: its
// room's own entries bounded by count and bytes, then the rooms whose buffer expired, then the least
// recently appended rooms while the total is over its bytes or rooms bound.
const APPEND_SCRIPT = `
local rooms, sizes = KEYS[1], KEYS[2]
local now, maxLen, roomMax, totalMax, maxRooms, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]),
  tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
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
local total = 0
for k = 3, #KEYS do
  local a = 7 + (k - 3) * 5
  local stream, id, json, room, origin, ts = KEYS[k], ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local prefix = string.sub(stream, 1, #stream - #room)
  -- a buffer that expired by itself: forget what it held
  if not redis.call('ZSCORE', rooms, room) then forget(room) redis.call('DEL', stream) end
  redis.call('XADD', stream, '*', 'i', id, 'e', json, 'o', origin, 't', ts)
  local bytes = add(room, #json)
  total = add('#total', #json)
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
  if k == 3 then
    for _, name in ipairs(redis.call('ZRANGEBYSCORE', rooms, '-inf', now - ttl)) do drop(name) end
  end
  while total > totalMax or redis.call('ZCARD', rooms) > maxRooms do
    local name = redis.call('ZRANGE', rooms, 0, 0)[1]
    if not name or name == room then break end
    drop(name)
  end
end
redis.call('PEXPIRE', rooms, ttl)
redis.call('PEXPIRE', sizes, ttl)
return total`;

interface AppendCommand {
  rtRecentAppend(numberOfKeys: number, ...keysThenArgs: (number | string)[]): Promise<number>;
}

/** Entries read per XREVRANGE while looking for `since`. */
const READ_PAGE = 100;
/** After a failed append, the next try (of it and everything queued behind it) waits this long. */
const APPEND_RETRY_MS = 200;
/** An append that keeps failing this long is given up (recovery then falls back to Postgres). */
const APPEND_GIVE_UP_MS = 15_000;
/** Envelopes waiting to be appended at most; beyond it the oldest are given up. */
const APPEND_QUEUE_MAX = 10_000;
/** Envelopes, and bytes of their JSON, one script call appends at most (a longer batch is split). */
const CALL_MAX_ENVELOPES = 100;
const CALL_MAX_BYTES = 1024 * 1024;

interface QueuedAppend {
  delivered: EncodedEnvelope;
  /** When its first try failed. */
  failedAt?: number;
}

/**
 * The recent-history buffer in the regional Redis: per room, a stream of the envelopes this region
 * delivered, each bound kept exactly by one script per batch of deliveries. An append is written to
 * Redis at once, before the delivery's emit (`RoomDelivery.observe`): its command is on the wire
 * before the adapter's publish to the other nodes, so no node hands an envelope to a room before the
 * buffer has it, and a join that missed it live reads it back. The deliveries `RoomDelivery` emits
 * together come as one batch, appended by one script call (one round trip and one script run for
 * the lot, whatever their rooms). One connection per node keeps that node's delivery order; an
 * append never waits on or fails a delivery. A failed append (its master died, Redis restarts) is
 * tried again before anything appended after it, every APPEND_RETRY_MS for up to
 * APPEND_GIVE_UP_MS, and reported to `onError` with the rooms it concerns each time.
 *
 * On a Redis Cluster (`clusterGroups`, the bus's shard count) the buffers are spread over groups: a
 * room's buffer is in its group's slot (`{r<g>}`, g = the room's bus shard), beside that group's
 * rooms zset and bytes hash, and each group keeps 1/groups of the region's total bounds
 * (`groupBounds`), so one script per group keeps its bounds exactly. A batch is split per group (a
 * script's keys must be one slot), in order within each group. One server keeps the `{recent}` keys
 * and the bounds as configured.
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
  /** The bounds each script call enforces: the region's, or on a cluster one group's share. */
  private readonly scriptBounds: RecentBounds;

  constructor(
    redis: RedisClient,
    bounds: RecentBounds,
    private readonly onError: (err: Error, rooms: string[]) => void,
    /** On a Redis Cluster: the groups (`BUS_SHARDS`) the buffers are spread over; one server: none. */
    private readonly clusterGroups?: number,
  ) {
    redis.defineCommand('rtRecentAppend', { lua: APPEND_SCRIPT });
    this.redis = redis as RedisClient & AppendCommand;
    this.scriptBounds = clusterGroups === undefined ? bounds : groupBounds(bounds, clusterGroups);
  }

  /** Writes delivered envelopes to their rooms' buffers now, or behind the appends waiting for a retry. */
  append(delivered: readonly EncodedEnvelope[]): void {
    const appends = delivered
      .filter((d) => !d.envelope.ephemeral)
      .map((d): QueuedAppend => ({ delivered: d }));
    if (appends.length === 0) return;
    if (this.failed.length === 0) {
      this.write(appends);
      return;
    }
    this.behind.push(...appends);
    if (this.behind.length > APPEND_QUEUE_MAX) {
      const dropped = this.behind.splice(0, this.behind.length - APPEND_QUEUE_MAX);
      this.onError(new Error('recent-history appends given up: too many waiting'), roomsOf(dropped));
    }
  }

  settled(): Promise<void> {
    if (this.inFlight === 0 && this.failed.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * Sends the appends in order, in as few calls as their bounds allow (written before this returns):
   * on a cluster one run of calls per group, each group's appends in their order.
   */
  private write(appends: readonly QueuedAppend[]): void {
    if (this.clusterGroups === undefined) {
      this.writeGroup(undefined, appends);
      return;
    }
    const byGroup = new Map<number, QueuedAppend[]>();
    for (const append of appends) {
      const group = shardOfRoom(append.delivered.envelope.room, this.clusterGroups);
      const list = byGroup.get(group);
      if (list) list.push(append);
      else byGroup.set(group, [append]);
    }
    for (const [group, list] of byGroup) this.writeGroup(group, list);
  }

  /** The appends of one group (undefined: one server's keys) in calls of bounded size. */
  private writeGroup(group: number | undefined, appends: readonly QueuedAppend[]): void {
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < appends.length; i++) {
      bytes += appends[i]!.delivered.json.length;
      const full = i + 1 - start >= CALL_MAX_ENVELOPES || bytes >= CALL_MAX_BYTES;
      if (full || i === appends.length - 1) {
        this.call(group, appends.slice(start, i + 1));
        start = i + 1;
        bytes = 0;
      }
    }
  }

  /** One script call for `appends`, all of `group`; a failure queues them for a retry. */
  private call(group: number | undefined, appends: QueuedAppend[]): void {
    const { length, roomMaxBytes, totalMaxBytes, maxRooms, ttlMs } = this.scriptBounds;
    const streams: string[] = [];
    const args: (string | number)[] = [Date.now(), length, roomMaxBytes, totalMaxBytes, maxRooms, ttlMs];
    for (const { delivered } of appends) {
      const { envelope, json } = delivered;
      streams.push(this.bufferKey(envelope.room, group));
      args.push(envelope.id, json, envelope.room, envelope.origin, envelope.ts);
    }
    const rooms = group === undefined ? keys.recentRooms() : keys.groupRecentRooms(group);
    const sizes = group === undefined ? keys.recentBytes() : keys.groupRecentBytes(group);
    this.inFlight++;
    this.redis
      .rtRecentAppend(2 + streams.length, rooms, sizes, ...streams, ...args)
      .then(
        () => undefined,
        (err: Error) => {
          this.onError(err, roomsOf(appends));
          const now = Date.now();
          for (const append of appends) append.failedAt ??= now;
          this.failed.push(...appends);
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
    const expired = (q: QueuedAppend) => q.failedAt !== undefined && now - q.failedAt >= APPEND_GIVE_UP_MS;
    const given = waiting.filter(expired);
    if (given.length > 0) {
      this.onError(new Error('recent-history appends given up after retrying'), roomsOf(given));
    }
    const again = waiting.filter((q) => !expired(q));
    if (again.length > 0) this.write(again);
    this.settle();
  }

  private settle(): void {
    if (this.inFlight > 0 || this.failed.length > 0) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** A room's buffer: in its group on a cluster (`group` when known), else one server's name. */
  private bufferKey(room: string, group?: number): string {
    if (this.clusterGroups === undefined) return keys.recent(room);
    return keys.groupRecent(group ?? shardOfRoom(room, this.clusterGroups), room);
  }

  async readBack(room: string, since: EnvelopeId, windowMs?: number): Promise<BufferedEnvelope[]> {
    const key = this.bufferKey(room);
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

/**
 * The bounds of one group of a cluster's buffers: a room's own bounds as configured, the region's
 * totals split evenly, so each group holds at most total/groups (bytes and rooms, at least one room).
 */
function groupBounds(bounds: RecentBounds, groups: number): RecentBounds {
  return {
    ...bounds,
    totalMaxBytes: Math.floor(bounds.totalMaxBytes / groups),
    maxRooms: Math.max(1, Math.floor(bounds.maxRooms / groups)),
  };
}

function roomsOf(appends: readonly QueuedAppend[]): string[] {
  return [...new Set(appends.map((q) => q.delivered.envelope.room))];
}
