import type { JsonValue, PresenceEvent, PresenceList } from '../../shared';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RegionIo } from '../publish';
import type { PresenceStore, RegionMembers } from './store';

/** Other regions' members of a room: the first `limit`, and how many there are. */
export type RemoteMembers = (room: string, limit: number) => Promise<RegionMembers>;

/**
 * Presence as clients see it: records joins and leaves, emits `presence` events once per member
 * transition (a leave after the grace), and lists members (this region's first, capped at
 * `membersCap` overall) with the exact count. A presence-store failure never fails a join or leave:
 * it is logged and counted.
 */
export class PresenceService {
  private readonly transitionListeners: ((event: PresenceEvent) => void)[] = [];
  private remoteMembers: RemoteMembers | undefined;

  constructor(
    private readonly store: PresenceStore,
    private readonly io: RegionIo,
    private readonly region: string,
    private readonly membersCap: number,
    private readonly deps: { log: Logger; metrics: RegionMetrics },
  ) {}

  /** A socket joined `room`; announced when the user was not a member of it in this region. */
  async joined(
    room: string,
    socketId: string,
    user: string,
    info?: Record<string, JsonValue> | undefined,
  ): Promise<void> {
    await this.guard('join', async () => {
      if (await this.store.add(room, user, info))
        this.announce({ room, user, state: 'join', info }, socketId);
    });
  }

  /** A socket left `room`; the member leaves after the grace unless it comes back. */
  async left(room: string, user: string): Promise<void> {
    await this.guard('leave', () => this.store.remove(room, user));
  }

  async disconnected(rooms: string[], user: string): Promise<void> {
    await Promise.all(rooms.map((room) => this.left(room, user)));
  }

  /** Members in this region first, then other regions' (once a remote source is attached), and the count. */
  async members(room: string): Promise<PresenceList> {
    const local = await this.store.members(room, this.membersCap);
    if (!this.remoteMembers) return local;
    try {
      const remote = await this.remoteMembers(room, this.membersCap - local.members.length);
      return { members: [...local.members, ...remote.members], count: local.count + remote.count };
    } catch (err) {
      // Other regions are unknown for now (global Redis unreachable): list this region's members.
      this.deps.metrics.internalErrors.inc({ component: 'presence:remote' });
      this.deps.log.debug({ err: (err as Error).message, room }, 'presence of other regions unavailable');
      return local;
    }
  }

  /** Members in this region only (what this region contributes to other regions' listings). */
  localMembers(room: string, limit: number): Promise<RegionMembers> {
    return this.store.members(room, limit);
  }

  /** Rooms where this node holds connections. */
  roomsOfNode(): Promise<string[]> {
    return this.store.roomsOfNode();
  }

  /** Calls `listener` for every join and leave transition made in this region. */
  onTransition(listener: (event: PresenceEvent) => void): void {
    this.transitionListeners.push(listener);
  }

  /** Adds other regions' members to `members` (from the global presence mirror). */
  useRemoteMembers(source: RemoteMembers): void {
    this.remoteMembers = source;
  }

  /** Announces the members whose leave grace ran out (any node may sweep; each leave is reported once). */
  async sweep(): Promise<void> {
    await this.guard('sweep', async () => {
      for (const { room, user } of await this.store.expireLeaving())
        this.announce({ room, user, state: 'leave' });
    });
  }

  private announce(change: Omit<PresenceEvent, 'region'>, exceptSocketId?: string): void {
    const event: PresenceEvent = {
      room: change.room,
      user: change.user,
      region: this.region,
      state: change.state,
    };
    if (change.info) event.info = change.info;
    const target = exceptSocketId ? this.io.to(change.room).except(exceptSocketId) : this.io.to(change.room);
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
