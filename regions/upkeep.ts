import { CONNECTION_LEASE_MS, type UserLimits } from './limits';
import type { Logger } from './log';
import type { RegionMetrics } from './metrics';
import type { RegionalOutbox } from './outbox';
import { NODE_LEASE_MS, type PresenceService, type RegionalPresence } from './presence';
import type { RegionIo } from './publish';
import type { RegionSocket } from './socket/handlers';

/**
 * The node's periodic upkeep, at a third of the shortest lease: append envelopes held during a
 * regional Redis outage, renew this node's liveness (presence) and its connections' leases (per-user
 * limit), and clean up after nodes that stopped heartbeating.
 */
export class NodeUpkeep {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly parts: {
      io: RegionIo;
      outbox: RegionalOutbox;
      presenceStore: RegionalPresence;
      presence: PresenceService;
      userLimits: UserLimits;
      log: Logger;
      metrics: RegionMetrics;
    },
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), Math.min(NODE_LEASE_MS, CONNECTION_LEASE_MS) / 3);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async beat(): Promise<void> {
    const { io, outbox, presenceStore, presence, userLimits } = this.parts;
    try {
      await outbox.flush();
      await presenceStore.heartbeat();
      const sockets = [...io.of('/').sockets.values()] as RegionSocket[];
      await userLimits.renew(sockets.map((s) => ({ user: s.data.principal.user, socketId: s.id })));
      await presence.reap();
    } catch (err) {
      this.parts.metrics.internalErrors.inc({ component: 'heartbeat' });
      this.parts.log.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
  }
}
