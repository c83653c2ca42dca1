import type { RedisClient } from '../redis';
import type { PresenceEvent, PresenceMember } from '../../shared';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RegionIo } from '../publish';
import type { PresenceService } from './service';

/** Global Redis pub/sub channel carrying every region's presence transitions. */
export const PRESENCE_EVENTS_CHANNEL = 'rt:presence-events';

// rt:gpresence:{room}  hash  region -> {"users":[...],"expiresAt":ms}   each region's members of the room

interface RegionEntry {
  users: string[];
  expiresAt: number;
}

export interface GlobalPresenceDeps {
  region: string;
  globalRedis: RedisClient;
  /** A dedicated global connection for the subscription (it reconnects and resubscribes by itself). */
  subscriber: RedisClient;
  presence: PresenceService;
  io: RegionIo;
  /** How long a region's mirrored member list stays valid without a refresh. */
  ttlMs: number;
  log: Logger;
  metrics: RegionMetrics;
}

/**
 * Presence across regions. Each region mirrors its member list per room into the global Redis with
 * an expiry, rewritten on every transition and refreshed every third of `ttlMs` by each node for the
 * rooms it has members in; listings add the other regions' unexpired lists. Transitions travel over
 * global pub/sub and are emitted by every node to its own members (`io.local`), so each member gets
 * one event. While the global Redis is unreachable, listings show this region only and other
 * regions' events are missed (presence is a current state, re-read on reconnect, not a log).
 */
export class GlobalPresence {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: GlobalPresenceDeps) {}

  async start(): Promise<void> {
    const { presence, subscriber } = this.deps;
    presence.onTransition((event) => void this.transition(event));
    presence.useRemoteMembers((room) => this.remoteMembers(room));
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === PRESENCE_EVENTS_CHANNEL) this.relay(message);
    });
    await subscriber.subscribe(PRESENCE_EVENTS_CHANNEL).catch((err: Error) => {
      this.deps.log.warn({ err: err.message }, 'presence events of other regions unavailable for now');
    });
    this.timer = setInterval(() => void this.refresh(), Math.max(100, Math.floor(this.deps.ttlMs / 3)));
    void this.refresh();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Members of `room` in other regions, from their unexpired mirrored lists. */
  async remoteMembers(room: string): Promise<PresenceMember[]> {
    const entries = await this.deps.globalRedis.hgetall(mirrorKey(room));
    const now = Date.now();
    const members: PresenceMember[] = [];
    for (const [region, json] of Object.entries(entries)) {
      if (region === this.deps.region) continue;
      const entry = JSON.parse(json) as RegionEntry;
      if (entry.expiresAt > now) members.push(...entry.users.map((user) => ({ user, region })));
    }
    return members.sort((a, b) => a.region.localeCompare(b.region) || a.user.localeCompare(b.user));
  }

  private async transition(event: PresenceEvent): Promise<void> {
    await this.guard('publish', async () => {
      await this.mirror(event.room);
      await this.deps.globalRedis.publish(PRESENCE_EVENTS_CHANNEL, JSON.stringify(event));
    });
  }

  /** Rewrites this region's member list of `room` in the global mirror. */
  private async mirror(room: string): Promise<void> {
    const users = (await this.deps.presence.localMembers(room)).map((m) => m.user);
    const key = mirrorKey(room);
    const redis = this.deps.globalRedis;
    if (users.length === 0) {
      await redis.hdel(key, this.deps.region);
      return;
    }
    const entry: RegionEntry = { users, expiresAt: Date.now() + this.deps.ttlMs };
    await redis
      .multi()
      .hset(key, this.deps.region, JSON.stringify(entry))
      .pexpire(key, this.deps.ttlMs * 2)
      .exec();
  }

  private async refresh(): Promise<void> {
    await this.guard('refresh', async () => {
      for (const room of await this.deps.presence.roomsOfNode()) await this.mirror(room);
    });
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

function mirrorKey(room: string): string {
  return `rt:gpresence:${room}`;
}
