import type { PresenceMember } from '../../shared';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RegionIo } from '../publish';
import type { RegionalPresence } from './presence';

/**
 * Presence as clients see it: records joins and leaves, emits `presence` events on transitions, and
 * lists members. A presence-store failure never fails a join or leave: it is logged and counted.
 */
export class PresenceService {
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

  members(room: string): Promise<PresenceMember[]> {
    return this.store.members(room);
  }

  /** Emits leave events for members of nodes that stopped heartbeating. */
  async reap(): Promise<void> {
    await this.guard('reap', async () => {
      for (const { room, user } of await this.store.reapDeadNodes()) this.announce(room, user, 'leave');
    });
  }

  private announce(room: string, user: string, state: 'join' | 'leave', exceptSocketId?: string): void {
    const target = exceptSocketId ? this.io.to(room).except(exceptSocketId) : this.io.to(room);
    target.emit('presence', { room, user, region: this.region, state });
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
