/** How long a connection's lease lasts by default; the node renews its leases at a third of this. */
export const CONNECTION_LEASE_MS = 30_000;

/** A connection as the per-user limit knows it. */
export interface UserConnection {
  user: string;
  socketId: string;
}

/** What every backend enforces. */
export interface UserLimitRules {
  /** Open connections per user, over every node of the region. */
  maxConnectionsPerUser: number;
  /** How long a connection counts without a renewal (a crashed node's connections age out). */
  leaseMs?: number;
}

/**
 * Open connections per user across all nodes of a region: each connection holds a lease its node
 * renews, so the connections of a node that crashed stop counting by themselves. (The per-user
 * publish rate is checked by the publish log, in the same step as the append.) Backends:
 * `RedisUserLimits` (the node's, in the regional Redis) and `MemoryUserLimits` (in-process tests);
 * `user-limits-conformance.ts` runs on both.
 */
export interface UserLimits {
  /** Registers a connection lease for `user`; false when the user already has the maximum. */
  openConnection(user: string, socketId: string): Promise<boolean>;
  /** Ends a connection's lease (its slot is free at once). */
  closeConnection(user: string, socketId: string): Promise<void>;
  /** Renews the leases of this node's open connections. */
  renew(connections: Iterable<UserConnection>): Promise<void>;
}
