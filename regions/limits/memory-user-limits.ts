import {
  CONNECTION_LEASE_MS,
  type UserConnection,
  type UserLimitRules,
  type UserLimits,
} from './user-limits';

/** A region's connection leases in memory: user -> `node/socket` -> lease expiry (ms). */
export type MemoryConnectionLeases = Map<string, Map<string, number>>;

/**
 * The per-user connection limit in memory, for in-process tests and embedding: the same rules as
 * `RedisUserLimits` (`user-limits-conformance.ts` runs on both). Nodes of one region share `leases`.
 */
export class MemoryUserLimits implements UserLimits {
  private readonly leaseMs: number;

  constructor(
    private readonly nodeId: string,
    private readonly limits: UserLimitRules,
    private readonly leases: MemoryConnectionLeases = new Map(),
    private readonly now: () => number = Date.now,
  ) {
    this.leaseMs = limits.leaseMs ?? CONNECTION_LEASE_MS;
  }

  async openConnection(user: string, socketId: string): Promise<boolean> {
    const now = this.now();
    const held = this.leases.get(user) ?? new Map<string, number>();
    for (const [member, expiry] of held) if (expiry <= now) held.delete(member);
    if (held.size >= this.limits.maxConnectionsPerUser) return false;
    held.set(this.member(socketId), now + this.leaseMs);
    this.leases.set(user, held);
    return true;
  }

  async closeConnection(user: string, socketId: string): Promise<void> {
    const held = this.leases.get(user);
    held?.delete(this.member(socketId));
    if (held?.size === 0) this.leases.delete(user);
  }

  async renew(connections: Iterable<UserConnection>): Promise<void> {
    const expiry = this.now() + this.leaseMs;
    for (const { user, socketId } of connections) {
      const held = this.leases.get(user);
      const member = this.member(socketId);
      if (held?.has(member)) held.set(member, expiry);
    }
  }

  private member(socketId: string): string {
    return `${this.nodeId}/${socketId}`;
  }
}
