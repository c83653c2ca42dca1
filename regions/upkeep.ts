import { CONNECTION_LEASE_MS, type UserLimits } from './limits';
import type { Logger } from './log';
import type { RegionMetrics } from './metrics';
import type { RegionalOutbox } from './outbox';
import type { RedisPublishLog } from './publish';
import type { PresenceService, PresenceTiming, RegionalPresence } from './presence';
import type { RegionIo } from './publish';
import type { RegionSocket } from './socket/handlers';

/** How often members whose leave grace ran out are looked for (at most; a fifth of the grace if shorter). */
const PRESENCE_SWEEP_MS = 500;

/**
 * The node's periodic upkeep, at a third of the shortest lease: append envelopes held during a
 * regional Redis outage, renew this node's liveness (presence) and its connections' leases (per-user
 * limit), and clean up after nodes that stopped heartbeating. Separately, and more often, members
 * whose leave grace ran out are announced as gone.
 */
export class NodeUpkeep {
  private timer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
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
      presenceTiming: PresenceTiming;
      log: Logger;
      metrics: RegionMetrics;
    },
  ) {}

  async start(): Promise<void> {
    await this.beat();
    const { nodeLeaseMs, leaveGraceMs } = this.parts.presenceTiming;
    this.timer = setInterval(() => void this.beat(), Math.min(nodeLeaseMs, CONNECTION_LEASE_MS) / 3);
    const sweepMs = Math.max(50, Math.min(PRESENCE_SWEEP_MS, Math.floor(leaveGraceMs / 5)));
    this.sweeper = setInterval(() => void this.parts.presence.sweep(), sweepMs);
    this.trimTimer = setInterval(() => void this.trimOutbox(), this.parts.outboxTrimIntervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.sweeper);
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
