import type { RedisClient } from '../redis';
import { busKeys } from './keys';
import type { RegionLease } from './lease';

// Sets the dedup marks only while the caller still holds the lease with at least ARGV[2] ms left:
// nil when it does not (nothing is marked), else 1/0 per mark (newly marked / seen before). KEYS:
// the lease, ARGV[4] marks, then, when ARGV[5] names a consumer group, the stream whose entries
// ARGV[6..] are acknowledged in that group in the same step (the batch is handled once marked).
const MARK_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  return nil
end
local marks = tonumber(ARGV[4])
local fresh = {}
for i = 1, marks do
  fresh[i] = redis.call('SET', KEYS[i + 1], '1', 'EX', ARGV[3], 'NX') and 1 or 0
end
if ARGV[5] ~= '' and #ARGV > 5 then
  redis.call('XACK', KEYS[marks + 2], ARGV[5], unpack(ARGV, 6))
end
return fresh`;

interface MarkCommand {
  rtMarkSeen(numberOfKeys: number, ...keysThenArgs: (number | string)[]): Promise<number[] | null>;
}

/** Clients the script is defined on (sent by its SHA, the text only once). */
const defined = new WeakSet<RedisClient>();

/** The lease was lost (or nearly expired) before a batch could be marked: leave it to the holder. */
export class LeaseLostError extends Error {
  constructor(key: string) {
    super(`lease ${key} is no longer held`);
    this.name = 'LeaseLostError';
  }
}

/** Entries of a consumer group acknowledged in the same step as the marks. */
export interface AckWithMarks {
  stream: string;
  group: string;
  ids: readonly string[];
}

/**
 * Marks envelope ids as delivered in this region (`rt:seen:{id}`, SET NX EX) in one atomic step with a
 * check that `lease` is still this node's, with a quarter of its TTL left. A holder that stalled past
 * its lease can therefore neither emit a batch its successor also emits nor mark entries its
 * successor would then drop as duplicates: it gets LeaseLostError and leaves the batch pending.
 * Returns, per id, whether it was new (to be emitted) or seen before (a duplicate).
 *
 * With `ack` (the stream in the same slot as the marks, i.e. one Redis server), the batch's entries
 * are acknowledged in the same step: once an id is marked, a repeat of its entry is dropped anyway,
 * so acknowledging it before the emit rather than after changes nothing a reader of the group can
 * observe, and saves the acknowledgement's own round trip.
 */
export async function markNewUnderLease(
  redis: RedisClient,
  lease: Pick<RegionLease, 'key' | 'holder' | 'ttlMs'>,
  ids: readonly string[],
  windowS: number,
  /** The dedup mark of an id: on a Redis Cluster in the lease's publish group (`keys.groupSeen`). */
  seenKey: (id: string) => string = busKeys.seen,
  ack?: AckWithMarks,
): Promise<boolean[]> {
  if (ids.length === 0) return [];
  if (!defined.has(redis)) {
    redis.defineCommand('rtMarkSeen', { lua: MARK_SCRIPT });
    defined.add(redis);
  }
  const acking = ack !== undefined && ack.ids.length > 0;
  const keys = [lease.key, ...ids.map((id) => seenKey(id)), ...(acking ? [ack.stream] : [])];
  const reply = await (redis as RedisClient & MarkCommand).rtMarkSeen(
    keys.length,
    ...keys,
    lease.holder,
    Math.ceil(lease.ttlMs / 4),
    windowS,
    ids.length,
    acking ? ack.group : '',
    ...(acking ? ack.ids : []),
  );
  if (reply === null) throw new LeaseLostError(lease.key);
  return reply.map((fresh) => fresh === 1);
}
