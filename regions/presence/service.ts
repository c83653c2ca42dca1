import type { PresenceEvent, PresenceMember } from '../../shared';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RegionIo } from '../publish';
import type { RegionalPresence } from './presence';

/**
 * Presence as clients see it: records joins and leaves, emits `presence` events on transitions, and
 * lists members. A presence-store failure never fails a join or leave: it is logged and counted.
 */
export class PresenceService {
  private readonly transitionListeners: ((event: PresenceEvent) => void)[] = [];
  private remoteMembers: ((room: string) => Promise<PresenceMember[]>) | undefined;

  constructor(
    private readonly store: RegionalPresence,
    private readonly io: RegionIo,
    private readonly region: string,
    private readonly deps: { log: Logger; metrics: RegionMetrics },
  ) {}

  async joined(room: string, socketId: string, user: string): Promise<void> {
    await this.guard('join', async () => {
      if (await this.store.add(room, socketId, user)) this.announce(room, user, 'join', socketId);
    });
  }

  async left(room: string, socketId: string, user: string): Promise<void> {
    await this.guard('leave', async () => {
      if (await this.store.remove(room, socketId, user)) this.announce(room, user, 'leave');
    });
  }

  async disconnected(rooms: string[], socketId: string, user: string): Promise<void> {
    await Promise.all(rooms.map((room) => this.left(room, socketId, user)));
  }

  /** Members in this region, plus those of other regions once a remote source is attached. */
  async members(room: string): Promise<PresenceMember[]> {
    const local = await this.store.members(room);
    if (!this.remoteMembers) return local;
    let remote: PresenceMember[] = [];
    try {
      remote = await this.remoteMembers(room);
    } catch (err) {
      // Other regions are unknown for now (global Redis unreachable): list this region's members.
      this.deps.metrics.internalErrors.inc({ component: 'presence:remote' });
      this.deps.log.debug({ err: (err as Error).message, room }, 'presence of other regions unavailable');
    }
    return [...local, ...remote.filter((m) => m.region !== this.region)];
  }

  /** Members in this region only (what this region contributes to other regions' listings). */
  localMembers(room: string): Promise<PresenceMember[]> {
    return this.store.members(room);
  }

  /** Rooms where this node has had members. */
  roomsOfNode(): Promise<string[]> {
    return this.store.roomsOfNode();
  }

  /** Calls `listener` for every join and leave transition made in this region. */
  onTransition(listener: (event: PresenceEvent) => void): void {
    this.transitionListeners.push(listener);
  }

  /** Adds other regions' members to `members` (from the global presence mirror). */
  useRemoteMembers(source: (room: string) => Promise<PresenceMember[]>): void {
    this.remoteMembers = source;
  }

  /** Emits leave events for members of nodes that stopped heartbeating. */
  async reap(): Promise<void> {
    await this.guard('reap', async () => {
      for (const { room, user } of await this.store.reapDeadNodes()) this.announce(room, user, 'leave');
    });
  }

  private announce(room: string, user: string, state: 'join' | 'leave', exceptSocketId?: string): void {
    const target = exceptSocketId ? this.io.to(room).except(exceptSocketId) : this.io.to(room);
    const event: PresenceEvent = { room, user, region: this.region, state };
    target.emit('presence', event);
    for (const listener of this.transitionListeners) listener(event);
  }

  private async guard(action: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.deps.metrics.internalErrors.inc({ component: `presence:${action}` });
      this.deps.log.warn({ err: (err as Error).message, action }, 'presence not updated');
    }
  }
}
