import { CONNECTION_LEASE_MS, type UserLimits } from './limits';
import type { Logger } from './log';
import type { RegionMetrics } from './metrics';
import type { RegionalOutbox } from './outbox';
import type { RedisPublishLog } from './publish';
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
  private trimTimer: NodeJS.Timeout | undefined;
  private trimFailing = false;

  constructor(
    private readonly parts: {
      io: RegionIo;
      outbox: RegionalOutbox;
      publishLog: RedisPublishLog;
      outboxTrimIntervalMs: number;
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
    this.trimTimer = setInterval(() => void this.trimOutbox(), this.parts.outboxTrimIntervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.trimTimer);
  }

  /**
   * Trims the outbox below what every existing consumer group acknowledged, in every mode (with the
   * bus off, only the history group exists). Every node does it: a trim is idempotent and cheap.
   */
  private async trimOutbox(): Promise<void> {
    try {
      await this.parts.outbox.trimAcknowledged();
      this.trimFailing = false;
    } catch (err) {
      this.parts.metrics.internalErrors.inc({ component: 'outbox-trim' });
      if (this.trimFailing) return;
      this.trimFailing = true;
      this.parts.log.warn({ err: (err as Error).message }, 'outbox trim failed');
    }
  }

  private async beat(): Promise<void> {
    const { io, publishLog, presenceStore, presence, userLimits } = this.parts;
    try {
      await publishLog.flush();
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
