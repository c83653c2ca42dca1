import { BusGroupMissingError, groupStanding, type InboundBus } from './bus';
import type { FailureStreak } from '../failure-streak';
import { inboundGroup } from './keys';
import { ShardPolicy, shardStream, type ShardPolicyDeps } from './inbound-shards';
import { StreamWorker } from '../streams/worker';
import type { EncodedEnvelope } from '../../shared';

export interface ShardConsumerDeps extends ShardPolicyDeps {
  nodeId: string;
  /** This region's inbound shards, in its own Redis. */
  bus: InboundBus;
  /** Failed reads and batches, failed acks, failed standing checks and trims: counted per component. */
  failures: { consume: FailureStreak; ack: FailureStreak; housekeeping: FailureStreak };
  batchSize: number;
  blockMs: number;
  /** Waiting reads kept outstanding on the shard's read connection (see `ReadAhead`). */
  readAhead: number;
  retryMs: number;
  /** Entries pending this long to another consumer of the region are taken over. */
  claimIdleMs: number;
  /** How often the shard is trimmed (to what the region's group acknowledged, and its retention bound). */
  trimIntervalMs: number;
  /** How often the group's standing (late, fallen behind) is checked, at a trim. */
  standingIntervalMs: number;
}

/** Deadline of each call to the region's Redis made by a consumer (reads add their block time). */
const CALL_DEADLINE_MS = 5_000;

/**
 * Consumes one inbound shard for the region while this node holds the shard's lease, as a policy on
 * a `StreamWorker`: at start it takes over whatever a previous holder left pending (oldest first),
 * then reads new entries; each batch goes to `ShardPolicy` (own region's envelopes skipped, ids
 * already delivered in the region dropped, the rest emitted region-wide), and the worker
 * acknowledges after the emit.
 * One consumer per shard and region keeps the order.
 *
 * Nothing on the way from a read returning to the next read waits for a Redis reply: reads are
 * kept outstanding ahead (`ReadAhead`), acknowledgements are sent without waiting for their reply
 * (an unacknowledged entry is only read again, and dropped by id), and the periodic trim and
 * standing check run beside the reads. Each of those round trips would otherwise hold up every
 * entry behind it.
 */
export class ShardConsumer {
  private readonly worker: StreamWorker<EncodedEnvelope>;
  private readonly housekeeping: NodeJS.Timeout;
  private housekeepingRunning = false;
  private nextStandingAt = 0;

  constructor(
    readonly shard: number,
    private readonly deps: ShardConsumerDeps,
  ) {
    const group = inboundGroup(deps.region);
    const stream = shardStream(deps.bus, {
      shard,
      group,
      consumer: deps.nodeId,
      count: deps.batchSize,
      blockMs: deps.blockMs,
      readAhead: deps.readAhead,
    });
    this.worker = new StreamWorker<EncodedEnvelope>({
      stream,
      policy: new ShardPolicy(shard, deps),
      batchSize: deps.batchSize,
      blockMs: deps.blockMs,
      claimIdleMs: deps.claimIdleMs,
      // The shard lease (held by the caller, checked with every batch's marks) makes this the only
      // reader of the region's group on this shard.
      exclusive: true,
      ack: 'background',
      retry: { minMs: deps.retryMs, maxMs: deps.retryMs * 4 },
      callDeadlineMs: CALL_DEADLINE_MS,
      failures: deps.failures.consume,
      ackFailures: deps.failures.ack,
      onClaim: (count) => {
        deps.metrics.claimed.inc(count);
        deps.log.info({ shard, entries: count }, 'took over pending inbound entries');
      },
      recover: async (err) => {
        if (!(err instanceof BusGroupMissingError)) return false;
        // A new region, or a regional Redis that came back empty: read the shard from its start.
        deps.log.warn({ shard }, 'inbound consumer group missing; creating it');
        await deps.bus.ensureGroup(shard, group, 'all');
        return true;
      },
    });
    this.worker.start();
    this.keepHouse();
    this.housekeeping = setInterval(() => this.keepHouse(), deps.trimIntervalMs);
  }

  /**
   * Stops after the batch in hand; resolves once nothing more will be emitted. Closing the read
   * connection ends the reads outstanding ahead; what they were handed stays pending for the next
   * holder of the shard, which claims everything pending in the region's group at take-over.
   */
  async stop(): Promise<void> {
    clearInterval(this.housekeeping);
    await this.worker.stop();
  }

  /**
   * Trims the shard (what the region acknowledged goes, so the shard holds only the last moments of
   * a steady stream) and now and then checks the group's standing, beside the reads, never in their
   * way.
   */
  private keepHouse(): void {
    if (this.housekeepingRunning || this.worker.stopped) return;
    this.housekeepingRunning = true;
    const { housekeeping } = this.deps.failures;
    (async () => {
      this.deps.metrics.trimmed.inc(await this.deps.bus.trim(Date.now(), [this.shard]));
      if (Date.now() < this.nextStandingAt) return;
      this.nextStandingAt = Date.now() + this.deps.standingIntervalMs;
      await this.reportStanding();
    })()
      .then(
        () => housekeeping.succeeded({ shard: this.shard }),
        (err: Error) => {
          // A missing group also shows up on the read path, which creates it.
          if (!(err instanceof BusGroupMissingError))
            housekeeping.failed(err, 'inbound trim or standing check failed', { shard: this.shard });
        },
      )
      .finally(() => (this.housekeepingRunning = false));
  }

  /** Logs and counts a region that trimming overtook (entries lost to it), apart from a late one. */
  private async reportStanding(): Promise<void> {
    const position = await this.deps.bus.position(this.shard, inboundGroup(this.deps.region));
    if (groupStanding(position) === 'fallen-behind') {
      this.deps.metrics.fallenBehind.inc({ shard: String(this.shard) });
      this.deps.log.error(
        {
          shard: this.shard,
          lastDelivered: position.lastDeliveredId,
          trimmedThrough: position.trimmedThroughId,
        },
        'region fell behind the inbound retention bound: entries were trimmed before this region read them',
      );
    }
  }
}
