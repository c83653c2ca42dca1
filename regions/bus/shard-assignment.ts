import type { RedisClient } from '../redis';
import type { Logger } from '../log';
import type { FailureStreak } from '../failure-streak';
import { busKeys } from './keys';
import { RegionLease } from './lease';
import type { BusMetrics } from './metrics';
import type { ShardConsumer } from './shard-consumer';

export interface ShardAssignmentDeps {
  nodeId: string;
  /** Regional Redis: shard leases. */
  redis: RedisClient;
  /** How many nodes of the region are alive (the node registry), to split the shards among. */
  liveNodes(): Promise<number>;
  shardCount: number;
  /** The lease key of a shard (default `busKeys.shardLease`; on a Redis Cluster its publish group's). */
  leaseKey?(shard: number): string;
  leaseMs: number;
  metrics: BusMetrics;
  log: Logger;
  /** Failed assignment rounds (counted, logged once per streak). */
  failures: FailureStreak;
  /** Starts consuming a shard this node now holds. */
  consume(shard: number, lease: RegionLease): ShardConsumer;
}

interface OwnedShard {
  lease: RegionLease;
  consumer: ShardConsumer;
}

/** How many shards each live node should hold: an even split, rounded up. */
export function fairShare(shardCount: number, liveNodes: number): number {
  return Math.ceil(shardCount / Math.max(1, liveNodes));
}

/**
 * Decides which bus shards this node consumes for its region: each shard has a lease in the regional
 * Redis (`rt:bus:lease:{n}`), renewed every third of `leaseMs`. A node takes free shards up to its fair
 * share of the live nodes, takes any shard left free for a whole lease period (its holder died and
 * is still counted live), and hands back shards above its share, one per round, so shards spread out.
 */
export class ShardAssignment {
  private readonly owned = new Map<number, OwnedShard>();
  private readonly freeSince = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly deps: ShardAssignmentDeps) {}

  start(): void {
    const tick = () => {
      this.round = this.round
        .then(() => this.rebalance())
        .then(
          () => this.deps.failures.succeeded(),
          (err: Error) => this.deps.failures.failed(err, 'shard assignment round failed'),
        );
    };
    tick();
    this.timer = setInterval(tick, Math.max(100, Math.floor(this.deps.leaseMs / 3)));
  }

  /** Stops every consumer of this node and releases its leases for an immediate take-over. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.round;
    await Promise.all([...this.owned.keys()].map((shard) => this.giveUp(shard, true)));
  }

  /** Shards this node consumes now. */
  shards(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  private async rebalance(): Promise<void> {
    if (this.stopped) return;
    for (const [shard, { lease }] of this.owned) {
      if (!(await lease.acquire())) {
        this.deps.failures.failed(new Error('lease not renewed in time'), 'inbound shard lease lost', {
          shard,
        });
        await this.giveUp(shard, false);
      }
    }
    const live = await this.deps.liveNodes();
    const share = fairShare(this.deps.shardCount, live);
    const now = Date.now();
    for (let i = 0; i < this.deps.shardCount && !this.stopped; i++) {
      const shard = (i + this.offset()) % this.deps.shardCount;
      if (this.owned.has(shard)) continue;
      const lease = new RegionLease(
        this.deps.redis,
        this.deps.leaseKey?.(shard) ?? busKeys.shardLease(shard),
        this.deps.nodeId,
        this.deps.leaseMs,
      );
      const holder = await lease.currentHolder();
      if (holder) {
        this.freeSince.delete(shard);
        continue;
      }
      if (!this.freeSince.has(shard)) this.freeSince.set(shard, now);
      const abandoned = now - this.freeSince.get(shard)! >= this.deps.leaseMs;
      if ((this.owned.size < share || abandoned) && (await lease.acquire())) this.take(shard, lease);
    }
    if (this.owned.size > share) await this.giveUp(this.shards().at(-1)!, true);
    this.deps.metrics.shardsOwned.set(this.owned.size);
  }

  private take(shard: number, lease: RegionLease): void {
    this.freeSince.delete(shard);
    this.owned.set(shard, { lease, consumer: this.deps.consume(shard, lease) });
    this.deps.log.info({ shard }, 'consuming bus shard');
  }

  private async giveUp(shard: number, release: boolean): Promise<void> {
    const owned = this.owned.get(shard);
    if (!owned) return;
    this.owned.delete(shard);
    // Peers wait a lease period before taking a shard beyond their share; this node would too.
    this.freeSince.set(shard, Date.now());
    await owned.consumer.stop();
    if (release) await owned.lease.release().catch(() => undefined);
    this.deps.log.info({ shard }, 'stopped consuming bus shard');
  }

  /** Nodes start scanning at different shards, so two starting together rarely race for the same. */
  private offset(): number {
    let hash = 0;
    for (const char of this.deps.nodeId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    return hash % this.deps.shardCount;
  }
}
