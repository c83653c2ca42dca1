import { keys } from '../keyspace';
import type { RedisClient } from '../redis';

/** The value of a Redis Cluster id claim (`rt:id:{id}`) for an id that arrived from another region. */
export const REMOTE_ID_CLAIM = 'remote';

/**
 * On a Redis Cluster, marks the ids of remote envelopes about to be emitted in the region's id claim
 * space, each in the id's own slot (set if absent: a local claim made first stays), for `windowS`:
 * the publish log then refuses them to a local publisher in a room of any publish group. The dedup
 * marks cannot serve for that there: they live in the room's group, beside the shard lease.
 * Resolves with how many marks failed (never rejects: the batch's dedup marks are set by then, and
 * a failed batch would never be emitted).
 */
export async function claimRemoteIds(
  redis: RedisClient,
  ids: readonly string[],
  windowS: number,
): Promise<number> {
  const settled = await Promise.allSettled(
    ids.map((id) => redis.set(keys.idClaim(id), REMOTE_ID_CLAIM, 'EX', windowS, 'NX')),
  );
  return settled.filter((result) => result.status === 'rejected').length;
}
