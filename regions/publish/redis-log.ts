import type { RedisClient } from '../redis';
import { holdRedisWritesThisTurn } from '../turn-writes';
import {
  ProtocolError,
  decodeAckRecord,
  encodeAckRecord,
  encodeEnvelope,
  entryFields,
  type AckRecord,
  type EncodedEnvelope,
  type Envelope,
} from '../../shared';
import { keys } from '../keyspace';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import { ackRecordOf, answerRetry, checkIdWindow, claimTtlMs, refuseForeignId, refuseOverRate } from './log';
import type {
  AcceptOptions,
  AcceptReply,
  AcceptResult,
  AcceptStore,
  PublishLog,
  PublishLogRules,
} from './log';

/** Envelopes the node answers retries for from memory (also while Redis is down). */
const LOCAL_ACKS = 10_000;

interface HeldEnvelope {
  encoded: EncodedEnvelope;
  record: AckRecord;
  bytes: number;
}

/**
 * The publish log in the regional Redis: on one server one Lua script per publish (rate, claim,
 * append); on a Redis Cluster the two steps of `ClusterAcceptStore`.
 *
 * While the regional Redis is unreachable (or does not answer within the client's command
 * deadline), accepted envelopes are held in memory, up to `holdMaxBytes` of envelope JSON, and
 * acked: local delivery goes on, the per-user rate is not enforced (counted as a limit failure).
 * Once anything is held, later publishes queue behind it so the outbox keeps acceptance order;
 * `flush` appends them in order with the same claim check (a duplicate accepted meanwhile by another
 * node is dropped then). When the hold is full, publishes are refused `unavailable`; what was
 * accepted is never dropped. Held envelopes of a node that crashes during such an outage are lost to
 * other regions and to history (docs/delivery.md).
 */
export class RedisPublishLog implements PublishLog {
  private readonly store: AcceptStore;
  private readonly held: HeldEnvelope[] = [];
  private heldBytesTotal = 0;
  private readonly localAcks = new Map<string, AckRecord>();
  private flushing: Promise<void> | undefined;
  private failing = false;

  constructor(
    redis: RedisClient,
    private readonly rules: PublishLogRules,
    private readonly deps: { log: Logger; metrics: RegionMetrics; holdMaxBytes: number },
    /** Default: one server's script; on a Redis Cluster, `ClusterAcceptStore`. */
    store?: AcceptStore,
  ) {
    this.store = store ?? new ServerAcceptStore(redis, rules);
    // A restarted or unfrozen Redis: append what was held.
    redis.on('ready', () => void this.flush());
  }

  /** Envelopes held in memory, not yet appended. */
  get heldCount(): number {
    return this.held.length;
  }

  get heldBytes(): number {
    return this.heldBytesTotal;
  }

  async accept(envelope: Envelope, options: AcceptOptions = {}): Promise<AcceptResult> {
    const now = Date.now();
    checkIdWindow(envelope.id, now, this.rules);
    const known = this.localAcks.get(envelope.id);
    if (known) return answerRetry(known, envelope);
    const encoded = encodeEnvelope(envelope, options.dataJson);
    const record = ackRecordOf(envelope);
    if (this.held.length === 0) {
      let reply: AcceptReply;
      try {
        reply = await this.run(encoded, record, now, options.rateLimited !== false);
      } catch (err) {
        this.unreachable(err as Error, 'append');
        return this.hold(encoded, record);
      }
      this.recovered();
      return this.answer(reply, encoded, record);
    }
    return this.hold(encoded, record);
  }

  /** Appends held envelopes in order; stops at the first failure and tries again on the next call. */
  flush(): Promise<void> {
    // Cleared in `.finally`, which runs after the assignment even when nothing is held.
    this.flushing ??= this.appendHeld().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async appendHeld(): Promise<void> {
    while (this.held.length > 0) {
      const next = this.held[0]!;
      let reply: AcceptReply;
      try {
        reply = await this.run(next.encoded, next.record, Date.now(), false);
      } catch (err) {
        this.unreachable(err as Error, 'flush');
        return;
      }
      this.held.shift();
      this.heldBytesTotal -= next.bytes;
      if (reply[0] === 2 || (reply[0] === 0 && !sameClaim(reply[1], next.record))) {
        this.deps.metrics.internalErrors.inc({ component: 'publish-log:held-duplicate' });
        this.deps.log.warn({ id: next.record.id }, 'held envelope not appended: its id was taken meanwhile');
      }
    }
    this.recovered();
  }

  private run(encoded: EncodedEnvelope, record: AckRecord, now: number, limited: boolean) {
    const ephemeral = encoded.envelope.ephemeral === true;
    const limit = !limited ? 0 : ephemeral ? this.rules.ephemeralRatePerUser : this.rules.publishRatePerUser;
    return this.store.accept(encoded, record, now, limit);
  }

  private answer(reply: AcceptReply, encoded: EncodedEnvelope, record: AckRecord): AcceptResult {
    switch (reply[0]) {
      case 1:
        this.remember(record);
        return { fresh: true, encoded };
      case 0: {
        const first = decodeAckRecord(reply[1]);
        if (!first) throw new ProtocolError('invalid', 'this id was already used for another message');
        return answerRetry(first, encoded.envelope);
      }
      case 2:
        return refuseForeignId();
      case 3:
        return refuseOverRate(encoded.envelope.ephemeral === true);
    }
  }

  private hold(encoded: EncodedEnvelope, record: AckRecord): AcceptResult {
    const bytes = encoded.json.length;
    if (this.heldBytesTotal + bytes > this.deps.holdMaxBytes) {
      throw new ProtocolError(
        'unavailable',
        'the region cannot store messages right now; retry with the same id',
      );
    }
    this.held.push({ encoded, record, bytes });
    this.heldBytesTotal += bytes;
    this.remember(record);
    this.deps.metrics.internalErrors.inc({ component: 'limits:publish-rate' });
    return { fresh: true, encoded };
  }

  private remember(record: AckRecord): void {
    this.localAcks.set(record.id, record);
    if (this.localAcks.size > LOCAL_ACKS) {
      const oldest = this.localAcks.keys().next().value;
      if (oldest !== undefined) this.localAcks.delete(oldest);
    }
  }

  /** Counts every failure; logs the first of a streak at warn. */
  private unreachable(err: Error, action: string): void {
    this.deps.metrics.internalErrors.inc({ component: `publish-log:${action}` });
    if (this.failing) return;
    this.failing = true;
    this.deps.log.warn(
      { err: err.message, action, held: this.held.length },
      'regional Redis unavailable: holding accepted envelopes in memory',
    );
  }

  private recovered(): void {
    if (!this.failing || this.held.length > 0) return;
    this.failing = false;
    this.deps.log.info('regional Redis back: held envelopes appended');
  }
}

function sameClaim(stored: string, record: AckRecord): boolean {
  const first = decodeAckRecord(stored);
  return (
    first !== undefined && first.user === record.user && first.room === record.room && first.ts === record.ts
  );
}

// KEYS: claim, remote dedup mark, rate counter, outbox. ARGV: ack record, claim TTL ms, rate limit
// (0: not checked), entry fields. Answers {0, first ack} for a known id, {2} for an id that arrived
// from another region, {3} over the rate, {1, stream id} once claimed and appended. The claim and the
// append are one step, so a crash never leaves a claimed id without its envelope or the reverse.
const ACCEPT_SCRIPT = `
local first = redis.call('GET', KEYS[1])
if first then return {0, first} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {2} end
local limit = tonumber(ARGV[3])
if limit > 0 then
  local n = redis.call('INCR', KEYS[3])
  if n == 1 then redis.call('PEXPIRE', KEYS[3], 2000) end
  if n > limit then return {3} end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, redis.call('XADD', KEYS[4], '*', unpack(ARGV, 4))}`;

interface AcceptCommand {
  rtAccept(
    claim: string,
    seen: string,
    rate: string,
    outbox: string,
    record: string,
    ttlMs: number,
    limit: number,
    ...fields: string[]
  ): Promise<AcceptReply>;
}

/** One server: one script over the `{publish}` keys, one round trip. */
export class ServerAcceptStore implements AcceptStore {
  private readonly redis: RedisClient & AcceptCommand;

  constructor(
    redis: RedisClient,
    private readonly rules: PublishLogRules,
  ) {
    redis.defineCommand('rtAccept', { numberOfKeys: 4, lua: ACCEPT_SCRIPT });
    this.redis = redis as RedisClient & AcceptCommand;
  }

  accept(encoded: EncodedEnvelope, record: AckRecord, now: number, limit: number): Promise<AcceptReply> {
    const { envelope } = encoded;
    const second = Math.floor(now / 1000);
    // The scripts of the publishes one TCP read brought go to Redis in one write.
    holdRedisWritesThisTurn(this.redis);
    return this.redis.rtAccept(
      keys.ack(envelope.id),
      keys.seen(envelope.id),
      envelope.ephemeral === true
        ? keys.ephemeralRate(envelope.user, second)
        : keys.rate(envelope.user, second),
      keys.outbox(),
      encodeAckRecord(record),
      claimTtlMs(envelope.id, now, this.rules),
      limit,
      ...entryFields(encoded),
    );
  }
}
