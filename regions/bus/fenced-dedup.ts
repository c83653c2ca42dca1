import type { RedisClient } from '../redis';
import { busKeys } from './keys';
import type { RegionLease } from './lease';

// Sets the dedup marks only while the caller still holds the lease with at least ARGV[2] ms left:
// nil when it does not (nothing is marked), else 1/0 per key (newly marked / seen before).
const MARK_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  return nil
end
local fresh = {}
for i = 2, #KEYS do
  fresh[i - 1] = redis.call('SET', KEYS[i], '1', 'EX', ARGV[3], 'NX') and 1 or 0
end
return fresh`;

/** The lease was lost (or nearly expired) before a batch could be marked: leave it to the holder. */
export class LeaseLostError extends Error {
  constructor(key: string) {
    super(`lease ${key} is no longer held`);
    this.name = 'LeaseLostError';
  }
}

/**
 * Marks envelope ids as delivered in this region (`rt:seen:{id}`, SET NX EX) in one atomic step with a
 * check that `lease` is still this node's, with a quarter of its TTL left. A holder that stalled past
 * its lease can therefore neither emit a batch its successor also emits nor mark entries its
 * successor would then drop as duplicates: it gets LeaseLostError and leaves the batch pending.
 * Returns, per id, whether it was new (to be emitted) or seen before (a duplicate).
 */
export async function markNewUnderLease(
  redis: RedisClient,
  lease: Pick<RegionLease, 'key' | 'holder' | 'ttlMs'>,
  ids: readonly string[],
  windowS: number,
  /** The dedup mark of an id: on a Redis Cluster in the lease's publish group (`keys.groupSeen`). */
  seenKey: (id: string) => string = busKeys.seen,
): Promise<boolean[]> {
  if (ids.length === 0) return [];
  const keys = [lease.key, ...ids.map((id) => seenKey(id))];
  const reply = (await redis.eval(
    MARK_SCRIPT,
    keys.length,
    ...keys,
    lease.holder,
    Math.ceil(lease.ttlMs / 4),
    windowS,
  )) as number[] | null;
  if (reply === null) throw new LeaseLostError(lease.key);
  return reply.map((fresh) => fresh === 1);
}
