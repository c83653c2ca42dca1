import { keys } from '../keyspace';
import type { RedisClient } from '../redis';

/**
 * The region's live nodes: each node renews a lease, and a node whose lease ran out (crashed or cut
 * off) is dead. The one list of live nodes of a region: presence cleans up after the dead ones and
 * the bus splits its inbound shards among the live ones. Backends: the regional Redis
 * (`RedisNodeRegistry`) and memory (`MemoryNodeRegistry`).
 */
export interface NodeRegistry {
  /** Takes or renews `node`'s lease until `leaseMs` from now. */
  renew(node: string, leaseMs: number): Promise<void>;
  /** How many nodes hold an unexpired lease. */
  liveCount(): Promise<number>;
  /**
   * Nodes whose lease ran out, other than `claimer`, each given to one claimer at a time (a claim
   * lasts `claimMs`): the caller cleans up after them, then `remove`s them.
   */
  claimDead(claimer: string, claimMs: number): Promise<string[]>;
  /** Drops a node from the registry (it stopped, or was cleaned up after). */
  remove(node: string): Promise<void>;
}

const NODES_KEY = keys.nodes();

/** The registry in the regional Redis: `rt:nodes` (node -> lease expiry), `rt:reaping:{node}` claims. */
export class RedisNodeRegistry implements NodeRegistry {
  /** `now` is the clock leases are judged by (tests move it by hand). */
  constructor(
    private readonly redis: RedisClient,
    private readonly now: () => number = Date.now,
  ) {}

  async renew(node: string, leaseMs: number): Promise<void> {
    await this.redis.zadd(NODES_KEY, this.now() + leaseMs, node);
  }

  liveCount(): Promise<number> {
    return this.redis.zcount(NODES_KEY, this.now(), '+inf');
  }

  async claimDead(claimer: string, claimMs: number): Promise<string[]> {
    const dead = await this.redis.zrangebyscore(NODES_KEY, '-inf', this.now());
    const claimed: string[] = [];
    for (const node of dead) {
      if (node === claimer) continue;
      const won = await this.redis.set(keys.reaping(node), claimer, 'PX', claimMs, 'NX');
      if (won === 'OK') claimed.push(node);
    }
    return claimed;
  }

  async remove(node: string): Promise<void> {
    await this.redis.zrem(NODES_KEY, node);
  }
}

/** The registry in memory, shared by the nodes of one process (in-process tests, embedded mode). */
export class MemoryNodeRegistry implements NodeRegistry {
  private readonly leases = new Map<string, number>();
  private readonly claims = new Map<string, number>();

  /** `now` is the clock leases and claims are judged by (tests move it by hand). */
  constructor(private readonly now: () => number = Date.now) {}

  async renew(node: string, leaseMs: number): Promise<void> {
    this.leases.set(node, this.now() + leaseMs);
  }

  async liveCount(): Promise<number> {
    const now = this.now();
    return [...this.leases.values()].filter((expiry) => expiry >= now).length;
  }

  async claimDead(claimer: string, claimMs: number): Promise<string[]> {
    const now = this.now();
    const claimed: string[] = [];
    for (const [node, expiry] of this.leases) {
      if (node === claimer || expiry >= now || (this.claims.get(node) ?? 0) > now) continue;
      this.claims.set(node, now + claimMs);
      claimed.push(node);
    }
    return claimed;
  }

  async remove(node: string): Promise<void> {
    this.leases.delete(node);
  }
}
