import { encodeEnvelope, type AckRecord, type EncodedEnvelope, type Envelope } from '../../shared';
import { ackRecordOf, answerRetry, checkIdWindow, claimTtlMs, refuseForeignId, refuseOverRate } from './log';
import type { AcceptOptions, AcceptResult, PublishLog, PublishLogRules } from './log';

/**
 * The publish log in memory, for unit tests and embedding: the same rules as the Redis log
 * (`publish-log-conformance.ts` runs on both), with the outbox as an array.
 */
export class MemoryPublishLog implements PublishLog {
  /** Envelopes appended, in order. */
  readonly outbox: EncodedEnvelope[] = [];
  private readonly claims = new Map<string, { record: AckRecord; expiresAt: number }>();
  private readonly seen = new Map<string, number>();
  private readonly counters = new Map<string, number>();

  constructor(
    private readonly rules: PublishLogRules,
    private readonly now: () => number = Date.now,
  ) {}

  /** What the bus does when it delivers a remote envelope here: remembers its id for `ttlMs`. */
  markSeen(id: string, ttlMs: number): void {
    this.seen.set(id, this.now() + ttlMs);
  }

  async accept(envelope: Envelope, options: AcceptOptions = {}): Promise<AcceptResult> {
    const now = this.now();
    checkIdWindow(envelope.id, now, this.rules);
    this.expire(now);
    const first = this.claims.get(envelope.id);
    if (first) return answerRetry(first.record, envelope);
    if ((this.seen.get(envelope.id) ?? 0) > now) refuseForeignId();
    const ephemeral = envelope.ephemeral === true;
    const limit = ephemeral ? this.rules.ephemeralRatePerUser : this.rules.publishRatePerUser;
    const counter = `${ephemeral ? 'e' : 's'}:${envelope.user}:${Math.floor(now / 1000)}`;
    const count = (this.counters.get(counter) ?? 0) + 1;
    this.counters.set(counter, count);
    if (options.rateLimited !== false && count > limit) refuseOverRate(ephemeral);
    this.claims.set(envelope.id, {
      record: ackRecordOf(envelope),
      expiresAt: now + claimTtlMs(envelope.id, now, this.rules),
    });
    const encoded = encodeEnvelope(envelope, options.dataJson);
    this.outbox.push(encoded);
    return { fresh: true, encoded };
  }

  private expire(now: number): void {
    for (const [id, claim] of this.claims) if (claim.expiresAt <= now) this.claims.delete(id);
    for (const [id, expiresAt] of this.seen) if (expiresAt <= now) this.seen.delete(id);
    const second = Math.floor(now / 1000);
    for (const key of this.counters.keys()) {
      if (Number(key.slice(key.lastIndexOf(':') + 1)) < second) this.counters.delete(key);
    }
  }
}
