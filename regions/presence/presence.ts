import type { RedisClient } from '../redis';
import type { JsonValue, PresenceMember } from '../../shared';
import { keys } from '../keyspace';
import type { PresenceChange, PresenceStore, PresenceTiming, RegionMembers } from './store';

// Per room (one hash tag, so a room's keys share a cluster slot):
// rt:presence:{room}        zset  user -> first join (ms)   the region's members, in join order
// rt:presence:{room}:refs   hash  user -> connections        (socket, room) pairs of the user in the region
// rt:presence:{room}:info   hash  user -> info JSON          the `info` claim of the user's latest join
// Per region:
// rt:presence-leaving       zset  "room|user" -> due (ms)    members at 0 connections, waiting out the grace
// rt:presence-node:{node}   hash  "room|user" -> connections what each node holds (for crash cleanup)

/** Adds one connection of a user to a room; returns 1 when that makes a new member. */
const JOIN_SCRIPT = `
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
if n == 1 then return redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1]) end
return 0`;

/** Removes `ARGV[2]` connections of a user; returns the connections left (0: the grace starts). */
const LEAVE_SCRIPT = `
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], -tonumber(ARGV[2]))
if n < 0 then redis.call('HSET', KEYS[2], ARGV[1], 0) n = 0 end
return n`;

/** Removes a member whose grace ran out with no connection back; returns 1 when it removed one. */
const EXPIRE_SCRIPT = `
local n = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
if n > 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])`;

/** The count, and the first `ARGV[1]` members with their info, in one round trip. */
const LIST_SCRIPT = `
local count = redis.call('ZCARD', KEYS[1])
local users = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local info = {}
if #users > 0 then info = redis.call('HMGET', KEYS[2], unpack(users)) end
return { count, users, info }`;

/**
 * Room presence in one region, in the regional Redis: one member per user however many connections
 * and nodes, with a connection count per member, so a join or leave costs a few O(1)/O(log n)
 * commands and a listing reads `limit` members and the exact count in one round trip (no scan). A
 * member whose last connection goes does not leave at once: it is due to leave after the grace, and
 * a connection back inside it cancels that (no leave, no second join). Each node also records what
 * it holds, so the first live node to notice a dead one takes its connections off.
 */
export class RegionalPresence implements PresenceStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly region: string,
    private readonly nodeId: string,
    private readonly timing: PresenceTiming,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a connection in the room; true when the user became a member (not back within the grace). */
  async add(room: string, user: string, info: Record<string, JsonValue> | undefined): Promise<boolean> {
    const k = roomKeys(room);
    const infoJson = info ? JSON.stringify(info) : '';
    const joined = await this.redis.eval(
      JOIN_SCRIPT,
      3,
      k.members,
      k.refs,
      k.info,
      user,
      this.now(),
      infoJson,
    );
    // Two keys of different cluster slots (and nodes): two commands, not one pipeline.
    await Promise.all([
      this.redis.hincrby(nodeKey(this.nodeId), entry(room, user), 1),
      this.redis.zrem(LEAVING_KEY, entry(room, user)),
    ]);
    return joined === 1;
  }

  /** Takes a connection out of the room; when it was the user's last, the leave grace starts. */
  async remove(room: string, user: string): Promise<void> {
    await this.release(room, user, 1);
    const left = await this.redis.hincrby(nodeKey(this.nodeId), entry(room, user), -1);
    if (left <= 0) await this.redis.hdel(nodeKey(this.nodeId), entry(room, user));
  }

  /** The first `limit` members (in join order) with their info, and the exact count. */
  async members(room: string, limit: number): Promise<RegionMembers> {
    const k = roomKeys(room);
    const [count, users, infos] = (await this.redis.eval(
      LIST_SCRIPT,
      2,
      k.members,
      k.info,
      Math.max(0, limit),
    )) as [number, string[], (string | null)[]];
    const members = users.map((user, i): PresenceMember => {
      const info = infos[i];
      return info ? { user, region: this.region, info: JSON.parse(info) } : { user, region: this.region };
    });
    return { members, count };
  }

  /** Members whose grace ran out with no connection back: removed here, returned to announce. */
  async expireLeaving(): Promise<PresenceChange[]> {
    const due = await this.redis.zrangebyscore(LEAVING_KEY, '-inf', this.now(), 'LIMIT', 0, 500);
    const left: PresenceChange[] = [];
    for (const item of due) {
      const { room, user } = parseEntry(item);
      const k = roomKeys(room);
      // Two nodes may sweep the same entry: only the one whose script removed the member reports it.
      const removed = await this.redis.eval(EXPIRE_SCRIPT, 3, k.members, k.refs, k.info, user);
      await this.redis.zrem(LEAVING_KEY, item);
      if (removed === 1) left.push({ room, user });
    }
    return left;
  }

  /** Rooms where this node holds connections now. */
  async roomsOfNode(): Promise<string[]> {
    const entries = await this.redis.hkeys(nodeKey(this.nodeId));
    return [...new Set(entries.map((e) => parseEntry(e).room))];
  }

  /**
   * Takes every connection a node held off its rooms. A stopping node's members get the grace (its
   * clients are reconnecting elsewhere); a dead node's (the node registry found it, `NodeLiveness`)
   * leave at the next sweep: its clients reconnected long before its lease ran out. The node leaves
   * the registry only after this, so a crash in between leaves it to the next cleaner.
   */
  async removeNode(nodeId = this.nodeId): Promise<void> {
    const graceMs = nodeId === this.nodeId ? this.timing.leaveGraceMs : 0;
    const held = await this.redis.hgetall(nodeKey(nodeId));
    for (const [item, connections] of Object.entries(held)) {
      const { room, user } = parseEntry(item);
      if (Number(connections) > 0) await this.release(room, user, Number(connections), graceMs);
    }
    await this.redis.del(nodeKey(nodeId));
  }

  private async release(
    room: string,
    user: string,
    connections: number,
    graceMs = this.timing.leaveGraceMs,
  ): Promise<void> {
    const { members, refs } = roomKeys(room);
    const left = await this.redis.eval(LEAVE_SCRIPT, 2, members, refs, user, connections);
    if (left === 0) await this.redis.zadd(LEAVING_KEY, this.now() + graceMs, entry(room, user));
  }
}

const LEAVING_KEY = keys.presenceLeaving();

function roomKeys(room: string) {
  return { members: keys.presence(room), refs: keys.presenceRefs(room), info: keys.presenceInfo(room) };
}

function nodeKey(nodeId: string): string {
  return keys.presenceNode(nodeId);
}

// Room names never hold '|' (ROOM_NAME), so the first one separates room from user.
function entry(room: string, user: string): string {
  return `${room}|${user}`;
}

function parseEntry(item: string): PresenceChange {
  const at = item.indexOf('|');
  return { room: item.slice(0, at), user: item.slice(at + 1) };
}
