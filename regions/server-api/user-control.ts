import type { RedisClient } from '../redis';
import { keys } from '../keyspace';
import type { Component } from '../lifecycle';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RegionIo } from '../publish';
import type { RegionSocket } from '../socket/region-socket';

/** Global Redis pub/sub channel every node of every region listens on for user disconnects. */
export const USER_CONTROL_CHANNEL = keys.userControl();

// rt:revocations  zset  user -> revocation time (ms): tokens of that user issued before it are refused

const REVOCATIONS_KEY = keys.revocations();
/** Revocations re-read from the global Redis this often (catches what pub/sub missed in an outage). */
const RESYNC_MS = 5_000;
/** Re-reads go back this far before the newest one seen, to tolerate clocks a little apart. */
const RESYNC_OVERLAP_MS = 60_000;

interface DisconnectCommand {
  user: string;
  reason: string;
  /** Set when the user's earlier tokens are revoked: the revocation time in ms. */
  revokedAt?: number;
}

/** Answers whether a verified token may still be used (see `UserControl.isRevoked`). */
export interface Revocations {
  isRevoked(user: string, iat: number | undefined): boolean;
}

export interface UserControlDeps {
  io: RegionIo;
  /** The global Redis command client. */
  globalRedis: RedisClient;
  /** A dedicated global connection for the subscription (ioredis resubscribes after a reconnect); closed by `stop`. */
  subscriber: RedisClient;
  /** How long a revocation is kept: the longest lifetime of a token the application issues. */
  revocationTtlMs: number;
  log: Logger;
  metrics: RegionMetrics;
}

/**
 * The server API's powers over users, across every region: disconnect every socket of a user, and
 * revoke the tokens they were issued so far. A disconnect travels over global pub/sub to every node,
 * which emits `disconnected { reason }` to that user's sockets on it and closes them. Revocations are
 * kept in the global Redis (bounded by `revocationTtlMs`) and mirrored in each node's memory, so a
 * handshake or an `auth` checks them without a round trip; a node re-reads them every few seconds,
 * which covers messages missed while the global Redis was unreachable.
 */
export class UserControl implements Revocations, Component {
  readonly name = 'user-control';
  private readonly revokedAt = new Map<string, number>();
  private newestSeen = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: UserControlDeps) {}

  async start(): Promise<void> {
    const { subscriber } = this.deps;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === USER_CONTROL_CHANNEL) this.received(message);
    });
    // Subscribed once ready (a SUBSCRIBE queued during ioredis's ready check can be lost), not
    // awaited: with the global Redis down the node must not wait. ioredis resubscribes after a reconnect.
    // Each (re)connection also re-reads the revocations, which covers what was missed meanwhile.
    const subscribe = () => {
      void subscriber.subscribe(USER_CONTROL_CHANNEL).catch((err: Error) => {
        this.deps.log.warn({ err: err.message }, 'user disconnects from other nodes unavailable for now');
      });
      void this.resync(0);
    };
    if (subscriber.status === 'ready') subscribe();
    subscriber.on('ready', subscribe);
    await this.resync(0);
    this.timer = setInterval(() => void this.resync(this.newestSeen - RESYNC_OVERLAP_MS), RESYNC_MS);
  }

  /** Stops resyncing and closes the subscriber connection. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const { subscriber } = this.deps;
    await subscriber.quit().catch(() => subscriber.disconnect());
  }

  /**
   * Whether a token of `user` issued at `iat` (seconds) was revoked. `iat` has a resolution of one
   * second, so a token issued in the same second as the revocation counts as before it; a token
   * without `iat` counts as issued before any revocation.
   */
  isRevoked(user: string, iat: number | undefined): boolean {
    const at = this.revokedAt.get(user);
    if (at === undefined) return false;
    if (at <= Date.now() - this.deps.revocationTtlMs) {
      this.revokedAt.delete(user);
      return false;
    }
    return iat === undefined || iat <= Math.floor(at / 1000);
  }

  /**
   * Disconnects every socket of `user` in every region; with `revoke`, first records that their
   * tokens issued until now are refused. Throws when the global Redis cannot be reached (nothing is
   * then promised beyond this node).
   */
  async disconnectUser(user: string, reason: string, revoke: boolean): Promise<void> {
    const command: DisconnectCommand = { user, reason };
    const redis = this.deps.globalRedis;
    if (revoke) {
      command.revokedAt = Date.now();
      this.remember(user, command.revokedAt);
      await redis
        .multi()
        .zadd(REVOCATIONS_KEY, command.revokedAt, user)
        .zremrangebyscore(REVOCATIONS_KEY, '-inf', command.revokedAt - this.deps.revocationTtlMs)
        .exec();
    }
    this.disconnectLocal(command);
    await redis.publish(USER_CONTROL_CHANNEL, JSON.stringify(command));
  }

  private received(message: string): void {
    let command: DisconnectCommand;
    try {
      command = JSON.parse(message) as DisconnectCommand;
    } catch {
      this.deps.log.warn('undecodable user control message ignored');
      return;
    }
    if (command.revokedAt !== undefined) this.remember(command.user, command.revokedAt);
    this.disconnectLocal(command);
  }

  /** Tells this node's sockets of the user why, then closes them (they do not reconnect by themselves). */
  private disconnectLocal({ user, reason }: DisconnectCommand): void {
    let closed = 0;
    for (const socket of this.deps.io.of('/').sockets.values() as Iterable<RegionSocket>) {
      if (socket.data.principal?.user !== user) continue;
      socket.emit('disconnected', { reason });
      socket.disconnect(true);
      closed++;
    }
    if (closed > 0)
      this.deps.log.info({ user, reason, sockets: closed }, 'user disconnected by the server API');
  }

  private remember(user: string, at: number): void {
    if ((this.revokedAt.get(user) ?? 0) < at) this.revokedAt.set(user, at);
    this.newestSeen = Math.max(this.newestSeen, at);
  }

  private async resync(since: number): Promise<void> {
    try {
      const floor = Math.max(since, Date.now() - this.deps.revocationTtlMs);
      const entries = await this.deps.globalRedis.zrangebyscore(REVOCATIONS_KEY, floor, '+inf', 'WITHSCORES');
      for (let i = 0; i + 1 < entries.length; i += 2) this.remember(entries[i]!, Number(entries[i + 1]));
    } catch (err) {
      this.deps.metrics.internalErrors.inc({ component: 'revocations:resync' });
      this.deps.log.debug(
        { err: (err as Error).message },
        'revocations not re-read: global Redis unavailable',
      );
    }
  }
}
