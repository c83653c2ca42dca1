import type { RedisClient } from '../redis';
import type { PresenceMember } from '../../shared';
import type { Logger } from '../log';

// rt:presence:{room}  hash  "node|socket" -> user        who is in the room, per connection
// rt:node-rooms:{node} set  rooms                         where a node has members (for crash cleanup)
// rt:nodes            zset  node -> lease expiry (ms)     which nodes are alive

// KEYS[1] is one room's hash only, so on a Redis Cluster the script stays in that room's slot; the
// node's room set (another slot) is written before it, by `add`.
const ADD_SCRIPT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local n = 0
for _, u in ipairs(redis.call('HVALS', KEYS[1])) do if u == ARGV[2] then n = n + 1 end end
return n`;

const REMOVE_SCRIPT = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
local n = 0
for _, u in ipairs(redis.call('HVALS', KEYS[1])) do if u == ARGV[2] then n = n + 1 end end
return n`;

/** How long a node counts as alive after its last heartbeat. */
export const NODE_LEASE_MS = 15_000;

/**
 * Room presence in one region, kept in the regional Redis per connection. A user is listed once per
 * region however many connections they have; `add`/`remove` report the transitions that make a
 * `presence` event. Members of a node that stopped heartbeating are no longer listed, and the first
 * live node to notice removes them and reports who left (see `reapDeadNodes`).
 */
export class RegionalPresence {
  constructor(
    private readonly redis: RedisClient,
    private readonly region: string,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  /** Records a member; true when this is the user's first connection in the room in this region. */
  async add(room: string, socketId: string, user: string): Promise<boolean> {
    // The room is listed for this node first: a crash in between leaves a listed room without this
    // node's member, which crash cleanup skips; never a member that cleanup cannot find.
    await this.redis.sadd(nodeRoomsKey(this.nodeId), room);
    const count = await this.redis.eval(ADD_SCRIPT, 1, roomKey(room), this.field(socketId), user);
    return count === 1;
  }

  /** Removes a member; true when the user has no connection left in the room in this region. */
  async remove(room: string, socketId: string, user: string): Promise<boolean> {
    const count = await this.redis.eval(REMOVE_SCRIPT, 1, roomKey(room), this.field(socketId), user);
    return count === 0;
  }

  /** Users in the room on live nodes of this region, each once. */
  async members(room: string): Promise<PresenceMember[]> {
    const [entries, alive] = await Promise.all([this.redis.hgetall(roomKey(room)), this.liveNodes()]);
    const users = new Set<string>();
    for (const [field, user] of Object.entries(entries)) {
      if (alive.has(field.slice(0, field.lastIndexOf('|')))) users.add(user);
    }
    return [...users].sort().map((user) => ({ user, region: this.region }));
  }

  /** Rooms where this node has had members (it may have none left in some). */
  async roomsOfNode(): Promise<string[]> {
    return this.redis.smembers(nodeRoomsKey(this.nodeId));
  }

  /** Renews this node's lease. */
  async heartbeat(): Promise<void> {
    await this.redis.zadd('rt:nodes', Date.now() + NODE_LEASE_MS, this.nodeId);
  }

  /** Removes this node's members and lease (on a clean shutdown). */
  async removeNode(nodeId = this.nodeId): Promise<{ room: string; user: string }[]> {
    const left: { room: string; user: string }[] = [];
    const rooms = await this.redis.smembers(nodeRoomsKey(nodeId));
    for (const room of rooms) {
      const entries = await this.redis.hgetall(roomKey(room));
      const mine = Object.entries(entries).filter(([field]) => field.startsWith(`${nodeId}|`));
      if (mine.length > 0) await this.redis.hdel(roomKey(room), ...mine.map(([field]) => field));
      const remaining = new Set(
        Object.entries(entries)
          .filter(([f]) => !f.startsWith(`${nodeId}|`))
          .map(([, u]) => u),
      );
      for (const user of new Set(mine.map(([, u]) => u))) if (!remaining.has(user)) left.push({ room, user });
    }
    // Two keys in different slots of a cluster, so two commands: the room set goes first, and a crash
    // in between leaves a dead node with no rooms, which the next reaper removes.
    await this.redis.del(nodeRoomsKey(nodeId));
    await this.redis.zrem('rt:nodes', nodeId);
    return left;
  }

  /**
   * Cleans up after nodes whose lease ran out (crashed or cut off). Each dead node is reaped by one
   * live node, which returns who left which room so it can emit the `presence` leave events.
   */
  async reapDeadNodes(): Promise<{ room: string; user: string }[]> {
    const dead = await this.redis.zrangebyscore('rt:nodes', '-inf', Date.now());
    const left: { room: string; user: string }[] = [];
    for (const nodeId of dead) {
      if (nodeId === this.nodeId) continue;
      const claimed = await this.redis.set(`rt:reaping:${nodeId}`, this.nodeId, 'EX', 30, 'NX');
      if (claimed !== 'OK') continue;
      this.log.warn({ deadNode: nodeId }, 'removing members of a node that stopped heartbeating');
      left.push(...(await this.removeNode(nodeId)));
    }
    return left;
  }

  private async liveNodes(): Promise<Set<string>> {
    return new Set(await this.redis.zrangebyscore('rt:nodes', Date.now(), '+inf'));
  }

  private field(socketId: string): string {
    return `${this.nodeId}|${socketId}`;
  }
}

function roomKey(room: string): string {
  return `rt:presence:${room}`;
}

function nodeRoomsKey(nodeId: string): string {
  return `rt:node-rooms:${nodeId}`;
}
