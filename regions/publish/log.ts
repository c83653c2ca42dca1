import {
  ProtocolError,
  envelopeIdTime,
  type AckRecord,
  type EncodedEnvelope,
  type Envelope,
  type EnvelopeId,
} from '../../shared';

/** What a publish is acked with. */
export interface PublishAck {
  id: EnvelopeId;
  ts: number;
}

/**
 * The answer of `PublishLog.accept`: a fresh envelope was stored (emit it, ack it), or its id was
 * accepted before for the same user and room (ack the first attempt again, deliver nothing).
 */
export type AcceptResult = { fresh: true; encoded: EncodedEnvelope } | { fresh: false; firstAck: PublishAck };

/**
 * The region's log of accepted publishes: the one place that checks the per-user publish rate,
 * claims an envelope id and appends the envelope to the regional outbox, all in one step (one
 * round trip to the regional Redis). A retry of an id is answered with its first ack; everything a
 * publish can be refused for here is thrown as a ProtocolError:
 * - `invalid`: the id was first accepted for another user or room, arrived from another region,
 *   or lies outside the idempotency window (too old, or too far in the future);
 * - `rate_limited`: the user is over its per-second publish rate (ephemeral publishes have their own);
 * - `unavailable`: the envelope could not be stored and the node cannot hold more.
 */
export interface PublishLog {
  accept(envelope: Envelope, options?: AcceptOptions): Promise<AcceptResult>;
}

export interface AcceptOptions {
  /** The envelope's `data` as JSON, when the caller encoded it already (it is not encoded again). */
  dataJson?: string;
  /** False for publishes no per-user rate applies to (the server API). Default true. */
  rateLimited?: boolean;
}

/** The rules every backend applies. */
export interface PublishLogRules {
  /** Publishes per second per user, over every node of the region. */
  publishRatePerUser: number;
  /** Ephemeral publishes per second per user (counted apart from stored ones). */
  ephemeralRatePerUser: number;
  /** How long an id is answered as a retry: ids older than this are refused. */
  idempotencyWindowMs: number;
  /** How far in the future (by the node's clock) an id's time may be. */
  idFutureMs: number;
}

/** How an accept ended in Redis: {0, first ack}, {1, stream id}, {2} from another region, {3} over the rate. */
export type AcceptReply = [0, string] | [1, string] | [2] | [3];

/** One accept's work in the regional Redis: rate, claim and append, as `ACCEPT_SCRIPT` answers. */
export interface AcceptStore {
  /** `limit` 0: the rate is not checked. */
  accept(encoded: EncodedEnvelope, record: AckRecord, now: number, limit: number): Promise<AcceptReply>;
}

/** A claim outlives the id's window by this much, for clock granularity between nodes. */
const CLAIM_MARGIN_MS = 1_000;

/**
 * Refuses an id made outside the idempotency window. Because no id older than the window is ever
 * accepted, a claim needs to live only until its id leaves the window (`claimTtlMs`).
 */
export function checkIdWindow(id: EnvelopeId, now: number, rules: PublishLogRules): void {
  const madeAt = envelopeIdTime(id);
  if (madeAt < now - rules.idempotencyWindowMs) {
    throw new ProtocolError(
      'invalid',
      `id is older than the idempotency window (${rules.idempotencyWindowMs / 1000} s); publish without an id or with a new one`,
    );
  }
  if (madeAt > now + rules.idFutureMs) {
    throw new ProtocolError('invalid', 'id is from the future; check the clock of the publishing device');
  }
}

/** How long the claim of `id` must live: until the id leaves the window, and not longer. */
export function claimTtlMs(id: EnvelopeId, now: number, rules: PublishLogRules): number {
  return Math.max(CLAIM_MARGIN_MS, envelopeIdTime(id) + rules.idempotencyWindowMs - now + CLAIM_MARGIN_MS);
}

export function ackRecordOf(envelope: Envelope): AckRecord {
  return { id: envelope.id, ts: envelope.ts, room: envelope.room, user: envelope.user };
}

/** Answers a publish whose id was claimed before: a retry (same user and room) or a misuse. */
export function answerRetry(first: AckRecord, envelope: Envelope): AcceptResult {
  if (first.room !== envelope.room || first.user !== envelope.user) {
    throw new ProtocolError('invalid', 'this id was already used for another message');
  }
  return { fresh: false, firstAck: { id: first.id, ts: first.ts } };
}

export function refuseForeignId(): never {
  throw new ProtocolError('invalid', 'this id belongs to a message from another region');
}

export function refuseOverRate(ephemeral: boolean): never {
  throw new ProtocolError(
    'rate_limited',
    ephemeral
      ? 'too many ephemeral publishes for this user; slow down'
      : 'too many publishes for this user; slow down',
  );
}
