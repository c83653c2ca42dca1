import type { RedisClient } from '../redis';
import { encodeAckRecord, entryFields, type AckRecord, type EncodedEnvelope } from '../../shared';
import { keys } from '../keyspace';
import { claimTtlMs, type PublishLogRules } from './log';

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

/** How an accept ended in Redis: {0, first ack}, {1, stream id}, {2} from another region, {3} over the rate. */
export type AcceptReply = [0, string] | [1, string] | [2] | [3];

/** One accept's work in the regional Redis: rate, claim and append, as `ACCEPT_SCRIPT` answers. */
export interface AcceptStore {
  /** `limit` 0: the rate is not checked. */
  accept(encoded: EncodedEnvelope, record: AckRecord, now: number, limit: number): Promise<AcceptReply>;
}

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
