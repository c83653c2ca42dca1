import type { RedisClient } from '../redis';
import type { PresenceEvent } from '../../shared';
import { keys } from '../keyspace';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RegionIo } from '../publish';
import type { RegionMembers } from './store';
import type { PresenceService } from './service';

/** Global Redis pub/sub channel carrying every region's presence transitions. */
export const PRESENCE_EVENTS_CHANNEL = keys.presenceEvents();

// Per room (one hash tag, one cluster slot), in the global Redis:
// rt:gpresence:{room}:regions     set   regions with members of the room
// rt:gpresence:{room}:r:{region}  zset  user -> first join (ms)   that region's members (expires without refresh)
// rt:gpresence:{room}:i:{region}  hash  user -> info JSON

/** Other regions' count and first ARGV[2] members with info, in one round trip; forgets expired regions. */
const REMOTE_SCRIPT = `
local count, users, regions, infos = 0, {}, {}, {}
local want = tonumber(ARGV[2])
for _, region in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if region ~= ARGV[1] then
    local zkey = ARGV[3] .. ':r:' .. region
    local n = redis.call('ZCARD', zkey)
    if n == 0 then
      redis.call('SREM', KEYS[1], region)
    else
      count = count + n
      if want > 0 then
        local page = redis.call('ZRANGE', zkey, 0, want - 1)
        local info = redis.call('HMGET', ARGV[3] .. ':i:' .. region, unpack(page))
        for i, user in ipairs(page) do
          users[#users + 1] = user
          regions[#regions + 1] = region
          infos[#infos + 1] = info[i] or ''
        end
        want = want - #page
      end
    end
  end
end
return { count, users, regions, infos }`;

export interface GlobalPresenceDeps {
  region: string;
  globalRedis: RedisClient;
  /** A dedicated global connection for the subscription (it reconnects and resubscribes by itself). */
  subscriber: RedisClient;
  presence: PresenceService;
  io: RegionIo;
  /** How long a region's mirrored members stay listed without a refresh. */
  ttlMs: number;
  log: Logger;
  metrics: RegionMetrics;
}

/**
 * Presence across regions. Each region's members of a room are mirrored into the global Redis one
 * transition at a time (a join adds the member, a leave after the grace removes it: O(log n), no
 * rewrite of the list), with an expiry every node renews for the rooms it holds connections in, so
 * a region that went away drops out after `ttlMs`. Listings add the other regions' count and first
 * members in one round trip. Transitions travel over global pub/sub and each node emits them to its
 * own members (`io.local`), so each member gets one event. While the global Redis is unreachable,
 * listings show this region only and other regions' events are missed; a mirror that expired
 * meanwhile is written again in full at the next refresh.
 */
export class GlobalPresence {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: GlobalPresenceDeps) {}

  async start(): Promise<void> {
    const { presence, subscriber } = this.deps;
    presence.onTransition((event) => void this.transition(event));
    presence.useRemoteMembers((room, limit) => this.remoteMembers(room, limit));
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === PRESENCE_EVENTS_CHANNEL) this.relay(message);
    });
    // Subscribed once ready: a SUBSCRIBE queued during ioredis's ready check can be lost.
    const subscribe = () =>
      void subscriber.subscribe(PRESENCE_EVENTS_CHANNEL).catch((err: Error) => {
        this.deps.log.warn({ err: err.message }, 'presence events of other regions unavailable for now');
      });
    if (subscriber.status === 'ready') subscribe();
    subscriber.on('ready', subscribe);
    this.timer = setInterval(() => void this.refresh(), Math.max(100, Math.floor(this.deps.ttlMs / 3)));
    void this.refresh();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Members of `room` in other regions: their count and the first `limit`. */
  async remoteMembers(room: string, limit: number): Promise<RegionMembers> {
    const [count, users, regions, infos] = (await this.deps.globalRedis.eval(
      REMOTE_SCRIPT,
      1,
      keys.globalPresenceRegions(room),
      this.deps.region,
      Math.max(0, limit),
      // The script names each region's keys from this prefix (they share the room's slot).
      keys.globalPresence(room, '').slice(0, -':r:'.length),
    )) as [number, string[], string[], string[]];
    const members = users.map((user, i) => {
      const info = infos[i];
      return info ? { user, region: regions[i]!, info: JSON.parse(info) } : { user, region: regions[i]! };
    });
    return { members, count };
  }

  private async transition(event: PresenceEvent): Promise<void> {
    await this.guard('publish', async () => {
      const k = regionKeys(event.room, this.deps.region);
      const tx = this.deps.globalRedis.multi();
      if (event.state === 'join') {
        tx.zadd(k.members, 'NX', Date.now(), event.user);
        if (event.info) tx.hset(k.info, event.user, JSON.stringify(event.info));
        tx.sadd(k.regions, this.deps.region);
        this.expire(tx, k);
      } else {
        tx.zrem(k.members, event.user).hdel(k.info, event.user);
      }
      await tx.exec();
      await this.deps.globalRedis.publish(PRESENCE_EVENTS_CHANNEL, JSON.stringify(event));
    });
  }

  /** Renews the mirrors of the rooms this node holds connections in; rewrites expired ones. */
  private async refresh(): Promise<void> {
    await this.guard('refresh', async () => {
      const rooms = await this.deps.presence.roomsOfNode();
      if (rooms.length === 0) return;
      // One pipeline per room: a room's keys share a hash tag, different rooms' keys may live on
      // different nodes of a cluster, and a pipeline must stay on one.
      const results = await Promise.all(
        rooms.map((room) => {
          const pipeline = this.deps.globalRedis.pipeline();
          this.expire(pipeline, regionKeys(room, this.deps.region));
          return pipeline.exec();
        }),
      );
      // Three PEXPIREs per room; the first (the member set) answers 0 when the mirror is gone.
      for (const [i, room] of rooms.entries()) {
        if (results[i]?.[0]?.[1] === 0) await this.mirrorInFull(room);
      }
    });
  }

  /** Writes this region's whole member list of `room` (after the mirror expired, e.g. an outage). */
  private async mirrorInFull(room: string): Promise<void> {
    const { members } = await this.deps.presence.localMembers(room, Number.MAX_SAFE_INTEGER);
    if (members.length === 0) return;
    const k = regionKeys(room, this.deps.region);
    const now = Date.now();
    const tx = this.deps.globalRedis.multi();
    tx.zadd(k.members, 'NX', ...members.flatMap((m, i) => [now + i, m.user]));
    const infos = members.filter((m) => m.info).flatMap((m) => [m.user, JSON.stringify(m.info)]);
    if (infos.length > 0) tx.hset(k.info, ...infos);
    tx.sadd(k.regions, this.deps.region);
    this.expire(tx, k);
    await tx.exec();
  }

  private expire(tx: ReturnType<RedisClient['pipeline']>, k: ReturnType<typeof regionKeys>): void {
    tx.pexpire(k.members, this.deps.ttlMs)
      .pexpire(k.info, this.deps.ttlMs)
      .pexpire(k.regions, this.deps.ttlMs * 2);
  }

  private relay(message: string): void {
    try {
      const event = JSON.parse(message) as PresenceEvent;
      if (event.region !== this.deps.region) this.deps.io.local.to(event.room).emit('presence', event);
    } catch {
      this.deps.log.warn('undecodable presence event ignored');
    }
  }

  private async guard(action: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.deps.metrics.internalErrors.inc({ component: `presence:global-${action}` });
      this.deps.log.debug({ err: (err as Error).message }, `global presence ${action} failed`);
    }
  }
}

function regionKeys(room: string, region: string) {
  return {
    regions: keys.globalPresenceRegions(room),
    members: keys.globalPresence(room, region),
    info: keys.globalPresenceInfo(room, region),
  };
}
