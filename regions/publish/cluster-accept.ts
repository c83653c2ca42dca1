import {
  decodeAckRecord,
  encodeAckRecord,
  entryFields,
  type AckRecord,
  type EncodedEnvelope,
} from '../../shared';
import { shardOfRoom } from '../bus/bus';
import { REMOTE_ID_CLAIM } from '../bus/remote-ids';
import { keys } from '../keyspace';
import type { RedisClient } from '../redis';
import { claimTtlMs, type AcceptReply, type AcceptStore, type PublishLogRules } from './log';

// KEYS: a user's counter of one second. Answers the count with this publish.
const COUNT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], 2000) end
return n`;

// KEYS: a user's counter of one second. Takes back one count, if the counter still exists (a DECR
// of an expired counter would leave a key without expiry).
const UNCOUNT_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0`;

// KEYS: the id's first ack in its room's group, the group's outbox. ARGV: ack record, TTL ms,
// refusal (0 none, 3 over the rate), entry fields. Answers {0, first ack} for an id appended before
// (a retry is answered even when over the rate now), the refusal, or {1, stream id} once recorded
// and appended: the record and the append are one step in one slot.
const APPEND_SCRIPT = `
local first = redis.call('GET', KEYS[1])
if first then return {0, first} end
local refusal = tonumber(ARGV[3])
if refusal > 0 then return {refusal} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))}`;

interface ClusterCommands {
  rtCountPublish(rate: string): Promise<number>;
  rtUncountPublish(rate: string): Promise<number>;
  rtGroupAppend(
    ack: string,
    outbox: string,
    record: string,
    ttlMs: number,
    refusal: number,
    ...fields: string[]
  ): Promise<AcceptReply>;
}

/** What the first step found: who claims the id, and the user's count this second. */
export interface FirstStep {
  /**
   * The claimant before this attempt (an encoded ack record, or `REMOTE_ID_CLAIM` for an id that
   * arrived from another region), or null when this attempt claimed the id.
   */
  claimant: string | null;
  count: number;
}

/**
 * The publish log's accept on a Redis Cluster, in two round trips, so that no slot carries a region's
 * whole publish traffic:
 * 1. in parallel: the id's claim in the id's own slot (`rt:id:{id}`, set if absent, else its
 *    claimant: another user or room, or another region (the bus consumer marks remote ids there,
 *    `claimRemoteIds`), is refused `invalid`, whichever group its room is in), and the user's
 *    counter of the second in the user's slot;
 * 2. in the room's publish group (`{p<g>}`, g = the room's bus shard): the first ack of a retry, or
 *    the ack record and the append to the group's outbox, in one script.
 * A crash between the steps leaves the id claimed by the same user and room with nothing appended:
 * that claimant's retry passes step 1 and appends in step 2. A refusal over the rate after a fresh
 * claim keeps the claim: only the same claimant can use the id later (within its rate).
 */
export class ClusterAcceptStore implements AcceptStore {
  private readonly redis: RedisClient & ClusterCommands;

  constructor(
    redis: RedisClient,
    private readonly rules: PublishLogRules,
    /** Publish groups: the bus's shard count, so a room's group is its inbound shard. */
    private readonly groups: number,
  ) {
    redis.defineCommand('rtCountPublish', { numberOfKeys: 1, lua: COUNT_SCRIPT });
    redis.defineCommand('rtUncountPublish', { numberOfKeys: 1, lua: UNCOUNT_SCRIPT });
    redis.defineCommand('rtGroupAppend', { numberOfKeys: 2, lua: APPEND_SCRIPT });
    this.redis = redis as RedisClient & ClusterCommands;
  }

  async accept(
    encoded: EncodedEnvelope,
    record: AckRecord,
    now: number,
    limit: number,
  ): Promise<AcceptReply> {
    const { envelope } = encoded;
    const first = await this.firstStep(encoded, record, now, limit);
    if (first.claimant === REMOTE_ID_CLAIM) {
      this.uncount(encoded, now, limit);
      return [2];
    }
    if (first.claimant !== null && !sameClaimant(first.claimant, record)) {
      this.uncount(encoded, now, limit);
      return [0, first.claimant];
    }
    const refusal = limit > 0 && first.count > limit ? 3 : 0;
    // Freshly claimed: nothing of this id can be in the group yet.
    if (first.claimant === null && refusal !== 0) return [3];
    const group = shardOfRoom(envelope.room, this.groups);
    const reply = await this.redis.rtGroupAppend(
      keys.groupAck(group, envelope.id),
      keys.groupOutbox(group),
      encodeAckRecord(record),
      claimTtlMs(envelope.id, now, this.rules),
      refusal,
      ...entryFields(encoded),
    );
    if (reply[0] === 0) this.uncount(encoded, now, limit);
    return reply;
  }

  /** As on one server, a publish refused for its id, or a retry, does not count toward the rate. */
  private uncount(encoded: EncodedEnvelope, now: number, limit: number): void {
    if (limit > 0) void this.redis.rtUncountPublish(this.rateKey(encoded, now)).catch(() => undefined);
  }

  /** Step 1 alone: claims the id (or reads its claimant), counts the publish, reads the remote mark. */
  async firstStep(
    encoded: EncodedEnvelope,
    record: AckRecord,
    now: number,
    limit: number,
  ): Promise<FirstStep> {
    const { id } = encoded.envelope;
    const ttlMs = claimTtlMs(id, now, this.rules);
    const [claimant, count] = await Promise.all([
      this.redis.call('SET', keys.idClaim(id), encodeAckRecord(record), 'PX', ttlMs, 'NX', 'GET') as Promise<
        string | null
      >,
      limit > 0 ? this.redis.rtCountPublish(this.rateKey(encoded, now)) : Promise.resolve(0),
    ]);
    return { claimant, count };
  }

  private rateKey({ envelope }: EncodedEnvelope, now: number): string {
    const second = Math.floor(now / 1000);
    return envelope.ephemeral === true
      ? keys.userEphemeralRate(envelope.user, second)
      : keys.userRate(envelope.user, second);
  }
}

function sameClaimant(stored: string, record: AckRecord): boolean {
  const first = decodeAckRecord(stored);
  return first !== undefined && first.user === record.user && first.room === record.room;
}
