import type { RedisClient } from '../redis';
import { keys } from '../keyspace';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import {
  CONNECTION_LEASE_MS,
  type UserConnection,
  type UserLimitRules,
  type UserLimits,
} from './user-limits';

// Connections per user: a sorted set of `node/socket` scored by lease expiry, so a crashed node's
// entries age out by themselves.
const CONNECT_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

/**
 * The per-user connection limit in the regional Redis. When the regional Redis is unreachable it
 * fails open (the per-connection limits still apply), and every such failure is logged and counted.
 */
export class RedisUserLimits implements UserLimits {
  private readonly leaseMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly nodeId: string,
    private readonly limits: UserLimitRules,
    private readonly deps: { log: Logger; metrics: RegionMetrics },
    private readonly now: () => number = Date.now,
  ) {
    this.leaseMs = limits.leaseMs ?? CONNECTION_LEASE_MS;
  }

  async openConnection(user: string, socketId: string): Promise<boolean> {
    const now = this.now();
    try {
      const ok = await this.redis.eval(
        CONNECT_SCRIPT,
        1,
        keys.connections(user),
        now,
        this.limits.maxConnectionsPerUser,
        now + this.leaseMs,
        this.member(socketId),
        this.leaseMs * 2,
      );
      return ok === 1;
    } catch (err) {
      this.failOpen(err);
      return true;
    }
  }

  async closeConnection(user: string, socketId: string): Promise<void> {
    try {
      await this.redis.zrem(keys.connections(user), this.member(socketId));
    } catch (err) {
      this.failOpen(err);
    }
  }

  async renew(connections: Iterable<UserConnection>): Promise<void> {
    const expiry = this.now() + this.leaseMs;
    // One MULTI per user rather than one pipeline for all: on a Redis Cluster a pipeline must stay
    // in one slot, and users' keys spread over all of them.
    const renewals = [...connections].map(({ user, socketId }) =>
      this.redis
        .multi()
        .zadd(keys.connections(user), 'XX', expiry, this.member(socketId))
        .pexpire(keys.connections(user), this.leaseMs * 2)
        .exec(),
    );
    const failed = (await Promise.allSettled(renewals)).find((r) => r.status === 'rejected');
    if (failed) this.failOpen(failed.reason);
  }

  private member(socketId: string): string {
    return `${this.nodeId}/${socketId}`;
  }

  private failOpen(err: unknown): void {
    this.deps.metrics.internalErrors.inc({ component: 'limits:connections' });
    this.deps.log.warn(
      { err: (err as Error).message, limit: 'connections' },
      'regional Redis unavailable: limit not enforced',
    );
  }
}
