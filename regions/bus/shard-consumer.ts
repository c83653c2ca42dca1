import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import type { RoomDelivery } from '../publish';
import { BusGroupMissingError, groupStanding, type BusEntry, type InboundBus } from './bus';
import type { FailureStreak } from './failures';
import { markNewUnderLease } from './fenced-dedup';
import { inboundGroup } from './keys';
import type { RegionLease } from './lease';
import type { BusMetrics } from './metrics';
import { ReadAhead } from './read-ahead';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ShardConsumerDeps {
  /** The shard's lease, checked atomically with every batch's dedup marks. */
  lease: Pick<RegionLease, 'key' | 'holder' | 'ttlMs'>;
  region: string;
  nodeId: string;
  /** This region's inbound shards, in its own Redis. */
  bus: InboundBus;
  /** Regional Redis: the dedup marks `rt:seen:{id}`. */
  redis: Redis;
  delivery: RoomDelivery;
  metrics: BusMetrics;
  log: Logger;
  /** Failed reads and batches, failed acks, failed standing checks and trims: counted per component. */
  failures: { consume: FailureStreak; ack: FailureStreak; housekeeping: FailureStreak };
  batchSize: number;
  blockMs: number;
  /** Waiting reads kept outstanding on the shard's read connection (see `ReadAhead`). */
  readAhead: number;
  retryMs: number;
  dedupWindowS: number;
  /** Entries pending this long to another consumer of the region are taken over. */
  claimIdleMs: number;
  /** How often the shard is trimmed to its retention bound and the group's standing checked. */
  standingIntervalMs: number;
}

/**
 * Consumes one inbound shard for the region while this node holds the shard's lease: first takes over
 * whatever a previous holder left pending (oldest first), then reads new entries, and for each one
 * skips its own region's envelopes, drops ids already delivered in the region, emits the rest
 * region-wide and acknowledges after the emit. One consumer per shard and region keeps the order.
 *
 * Nothing on the way from a read returning to the next read waits for a Redis reply: reads are
 * kept outstanding ahead (`ReadAhead`), acknowledgements are sent without waiting for their reply
 * (an unacknowledged entry is only read again, and dropped by id), and the periodic standing check
 * runs beside the reads. Each of those round trips would otherwise hold up every entry behind it.
 */
export class ShardConsumer {
  private readonly abort = new AbortController();
  private readonly reads: ReadAhead;
  private backlog = true;
  private takeover = true;
  private lastStandingCheck = 0;
  private checkingStanding = false;
  private lastClaim = Date.now();
  /** Acknowledgements sent and not yet answered; stop waits for them for a clean hand-over. */
  private readonly acks = new Set<Promise<void>>();
  readonly done: Promise<void>;

  constructor(
    readonly shard: number,
    private readonly deps: ShardConsumerDeps,
  ) {
    this.reads = new ReadAhead(deps.bus, {
      shard,
      group: deps.region,
      consumer: deps.nodeId,
      count: deps.batchSize,
      blockMs: deps.blockMs,
      depth: Math.max(1, deps.readAhead),
      signal: this.abort.signal,
    });
    this.done = this.run();
  }

  /**
   * Stops after the batch in hand; resolves once nothing more will be emitted. Closing the read
   * connection ends the reads outstanding ahead; what they were handed stays pending for the next
   * holder of the shard, which claims everything pending in the region's group at take-over.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
    await Promise.allSettled(this.acks);
  }

  private get group(): string {
    return inboundGroup(this.deps.region);
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        await this.step();
        this.deps.failures.consume.succeeded({ shard: this.shard });
      } catch (err) {
        if (this.abort.signal.aborted) break;
        // Reads outstanding behind the failure must not be handled before what it left pending.
        await this.reads.reset();
        if (err instanceof BusGroupMissingError) {
          // A new region, or a regional Redis that came back empty: read the shard from its start.
          this.deps.log.warn({ shard: this.shard }, 'bus consumer group missing; creating it');
          await this.deps.bus.ensureGroup(this.shard, this.group, 'all').catch(() => undefined);
          continue;
        }
        this.backlog = true;
        this.deps.failures.consume.failed(err, 'inbound consumption paused; entries stay pending', {
          shard: this.shard,
        });
        await sleep(this.deps.retryMs);
      }
    }
  }

  private async step(): Promise<void> {
    const { bus, nodeId, batchSize } = this.deps;
    if (Date.now() - this.lastStandingCheck >= this.deps.standingIntervalMs) this.checkStanding();
    if (this.takeover || Date.now() - this.lastClaim >= this.deps.claimIdleMs) {
      // At take-over everything pending is a previous holder's (min idle 0); later, only stragglers.
      const claimed = await bus.claim(
        this.shard,
        this.group,
        nodeId,
        this.takeover ? 0 : this.deps.claimIdleMs,
        batchSize,
      );
      if (claimed.length > 0) {
        this.deps.metrics.claimed.inc(claimed.length);
        this.deps.log.info({ shard: this.shard, entries: claimed.length }, 'took over pending bus entries');
        await this.handle(claimed);
        return;
      }
      this.takeover = false;
      this.lastClaim = Date.now();
    }
    if (this.backlog) {
      const pending = await bus.readPending(this.shard, this.group, nodeId, batchSize);
      if (pending.length > 0) return this.handle(pending);
      this.backlog = false;
    }
    await this.handle(await this.reads.next());
  }

  /** Dedup marks under the lease first (one round trip), then emits in entry order, then acknowledges. */
  private async handle(entries: BusEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const { metrics, delivery, redis } = this.deps;
    const foreign = entries.filter((e) => e.envelope && e.envelope.origin !== this.deps.region);
    const fresh = await markNewUnderLease(
      redis,
      this.deps.lease,
      foreign.map((e) => e.envelope!.id),
      this.deps.dedupWindowS,
    );
    const now = Date.now();
    foreign.forEach((entry, i) => {
      if (!fresh[i]) {
        metrics.duplicatesDropped.inc();
        metrics.consumed.inc({ result: 'duplicate' });
        return;
      }
      delivery.deliver(entry.envelope!, 'bus');
      metrics.consumed.inc({ result: 'delivered' });
      metrics.lag.observe(Math.max(0, now - entry.envelope!.ts) / 1000);
    });
    for (const entry of entries) {
      if (!entry.envelope) {
        metrics.consumed.inc({ result: 'invalid' });
        this.deps.log.error({ shard: this.shard, entry: entry.id }, 'undecodable bus entry skipped');
      } else if (entry.envelope.origin === this.deps.region) metrics.consumed.inc({ result: 'own' });
    }
    this.acknowledge(entries.map((e) => e.id));
  }

  /**
   * Acknowledges without waiting: commands on the connection run in order, so the ack still
   * precedes any later read of pending entries. A lost ack leaves entries pending; they are read
   * again after a failure or as stragglers, and dropped by id.
   */
  private acknowledge(ids: string[]): void {
    const { ack: failures } = this.deps.failures;
    const ack = this.deps.bus.ack(this.shard, this.group, ids).then(
      () => failures.succeeded({ shard: this.shard }),
      (err: Error) => failures.failed(err, 'inbound ack failed; entries stay pending', { shard: this.shard }),
    );
    this.acks.add(ack);
    void ack.finally(() => this.acks.delete(ack));
  }

  /** Trims the shard and checks the group's standing beside the reads, never in their way. */
  private checkStanding(): void {
    if (this.checkingStanding) return;
    this.checkingStanding = true;
    this.lastStandingCheck = Date.now();
    const { housekeeping } = this.deps.failures;
    (async () => {
      this.deps.metrics.trimmed.inc(await this.deps.bus.trim(Date.now(), [this.shard]));
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
      .finally(() => (this.checkingStanding = false));
  }

  /** Logs and counts a region that trimming overtook (entries lost to it), apart from a late one. */
  private async reportStanding(): Promise<void> {
    const position = await this.deps.bus.position(this.shard, this.group);
    if (groupStanding(position) === 'fallen-behind') {
      this.deps.metrics.fallenBehind.inc({ shard: String(this.shard) });
      this.deps.log.error(
        {
          shard: this.shard,
          lastDelivered: position.lastDeliveredId,
          trimmedThrough: position.trimmedThroughId,
        },
        'region fell behind the bus retention bound: entries were trimmed before this region read them',
      );
    }
  }
}
