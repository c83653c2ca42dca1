import type { RedisClient } from '../redis';
import { keys } from '../keyspace';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';

// Connections per user: a sorted set of `node/socket` scored by lease expiry, so a crashed node's
// entries age out by themselves.
const CONNECT_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

/** How long a connection's lease lasts; the node renews its leases at a third of this. */
export const CONNECTION_LEASE_MS = 30_000;

/**
 * Open connections per user, across all nodes of a region (the per-user publish rate is checked by
 * the publish log, in the same step as the append). When the regional Redis is unreachable they fail open (the per-connection limit still
 * applies), and every such failure is logged and counted.
 */
export class UserLimits {
  constructor(
    private readonly redis: RedisClient,
    private readonly nodeId: string,
    private readonly limits: { maxConnectionsPerUser: number },
    private readonly deps: { log: Logger; metrics: RegionMetrics },
  ) {}

  /** Registers a connection lease for `user`; false when the user already has the maximum. */
  async openConnection(user: string, socketId: string): Promise<boolean> {
    const now = Date.now();
    try {
      const ok = await this.redis.eval(
        CONNECT_SCRIPT,
        1,
        connectionsKey(user),
        now,
        this.limits.maxConnectionsPerUser,
        now + CONNECTION_LEASE_MS,
        this.member(socketId),
        CONNECTION_LEASE_MS * 2,
      );
      return ok === 1;
    } catch (err) {
      this.failOpen('connections', err);
      return true;
    }
  }

  async closeConnection(user: string, socketId: string): Promise<void> {
    try {
      await this.redis.zrem(connectionsKey(user), this.member(socketId));
    } catch (err) {
      this.failOpen('connections', err);
    }
  }

  /** Renews the leases of this node's open connections. */
  async renew(connections: Iterable<{ user: string; socketId: string }>): Promise<void> {
    const expiry = Date.now() + CONNECTION_LEASE_MS;
    // One MULTI per user rather than one pipeline for all: on a Redis Cluster a pipeline must stay
    // in one slot, and users' keys spread over all of them.
    const renewals = [...connections].map(({ user, socketId }) =>
      this.redis
        .multi()
        .zadd(connectionsKey(user), 'XX', expiry, this.member(socketId))
        .pexpire(connectionsKey(user), CONNECTION_LEASE_MS * 2)
        .exec(),
    );
    const failed = (await Promise.allSettled(renewals)).find((r) => r.status === 'rejected');
    if (failed) this.failOpen('connections', failed.reason);
  }

  private member(socketId: string): string {
    return `${this.nodeId}/${socketId}`;
  }

  private failOpen(limit: string, err: unknown): void {
    this.deps.metrics.internalErrors.inc({ component: `limits:${limit}` });
    this.deps.log.warn(
      { err: (err as Error).message, limit },
      'regional Redis unavailable: limit not enforced',
    );
  }
}

const connectionsKey = keys.connections;
