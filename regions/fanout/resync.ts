import { v7 as uuidv7 } from 'uuid';
import type { EnvelopeId } from '../../shared';
import { withDeadline } from '../deadline';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RegionIo } from '../publish';

/** How often rooms whose fan-out failed are told to resync, until telling them works. */
const RETRY_MS = 500;
/** Longest wait for the work a rejoin must see (the recent buffer's pending appends). */
const SETTLE_DEADLINE_MS = 10_000;
/**
 * A resync reaches back this far before the gap was noticed: envelopes whose publish was under way
 * when the connection went, and the clock difference between the nodes that stamp `ts`.
 */
const GAP_MARGIN_MS = 2_000;

/**
 * Closes the gaps that at-most-once cross-node fan-out (Redis pub/sub, sharded or not) leaves when a
 * regional Redis connection is lost, e.g. when a Redis Cluster master dies and its replica takes
 * over. Every envelope is in the region's recent buffer (and history) even when its fan-out was
 * lost, so members that may have missed some are sent `resync { room, since }`, `since` an id of the
 * time just before the gap began: the SDK joins the room again with the older of `since` and the
 * last envelope it has, and gets what it missed in `missed`, dropping repeats by id. (Live envelopes
 * received after the gap advanced the SDK's last id past it, so that alone would not reach back.)
 * Two nodes can see a gap:
 *
 * - the node whose adapter subscriber lost a connection (`subscriptionsRestored`): once every
 *   subscription is back, its local members of every room resync;
 * - the node whose publish to a room's channel failed, or whose recent-buffer append of a room's
 *   envelope failed (`roomAtRisk`): once its pending appends landed, the room's members on every
 *   node are told, through the adapter, and told again while that publish fails.
 *
 * Between them every case is covered: a member's node that was subscribed when the publisher told
 * the room got the resync; one that was not lost its subscription, and resyncs itself later, when
 * the publisher's appends are already in the buffer.
 */
export class FanoutResync {
  /** Rooms to tell, with when their gap began. */
  private readonly atRisk = new Map<string, number>();
  private readonly settleHooks: (() => Promise<void>)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: { io: RegionIo; log: Logger; metrics: RegionMetrics }) {}

  /** Work that must be done before a rejoin can see every envelope (e.g. pending buffer appends). */
  settleFirst(hook: () => Promise<void>): void {
    this.settleHooks.push(hook);
  }

  /** The adapter's subscriptions are back after a loss at `lostAt`: local members of every room resync. */
  subscriptionsRestored(lostAt: number): void {
    const since = idAt(lostAt - GAP_MARGIN_MS);
    void this.settle().then(() => {
      const { adapter } = this.deps.io.of('/');
      let rooms = 0;
      for (const room of adapter.rooms.keys()) {
        // Every socket is alone in a room named by its id; those are not rooms of the application.
        if (adapter.sids.has(room)) continue;
        this.deps.io.local.to(room).emit('resync', { room, since });
        rooms++;
      }
      this.deps.metrics.resyncs.inc({ cause: 'subscriber' }, rooms);
    });
  }

  /** Members of `room` elsewhere in the region may lack envelopes this node delivered since `at`. */
  roomAtRisk(room: string, at = Date.now()): void {
    if (this.stopped) return;
    this.atRisk.set(room, Math.min(at, this.atRisk.get(room) ?? at));
    this.timer ??= setTimeout(() => void this.tellRooms(), RETRY_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async tellRooms(): Promise<void> {
    await this.settle();
    this.timer = undefined;
    if (this.stopped) return;
    const rooms = [...this.atRisk];
    this.atRisk.clear();
    // A publish of this that fails too puts the room back at risk (`roomAtRisk` from the guard);
    // the gap is then counted from the failure of this publish, which the margin reaches back over.
    for (const [room, at] of rooms) {
      this.deps.io.to(room).emit('resync', { room, since: idAt(at - GAP_MARGIN_MS) });
    }
    this.deps.metrics.resyncs.inc({ cause: 'fanout' }, rooms.length);
  }

  private async settle(): Promise<void> {
    await Promise.all(
      this.settleHooks.map((hook) =>
        withDeadline(hook(), SETTLE_DEADLINE_MS).catch((err: Error) => {
          this.deps.log.warn({ err: err.message }, 'resync without waiting for pending buffer appends');
        }),
      ),
    );
  }
}

/** The room of a sharded adapter channel (`<prefix>#/#<room>#`), or undefined for another channel. */
export function roomOfChannel(prefix: string, channel: string): string | undefined {
  const head = `${prefix}#/#`;
  if (!channel.startsWith(head) || !channel.endsWith('#') || channel.length <= head.length + 1) {
    return undefined;
  }
  return channel.slice(head.length, -1);
}

/** An envelope id of time `ms` (UUIDv7): recovery places an id it does not hold by its time. */
function idAt(ms: number): EnvelopeId {
  return uuidv7({ msecs: ms }) as EnvelopeId;
}
