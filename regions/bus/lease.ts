import type { RedisClient } from '../redis';

// Takes the lease when free, renews it when already ours; 1 when held afterwards.
const ACQUIRE_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * A lease in the regional Redis that at most one node of the region holds at a time (the forwarder,
 * each bus shard). The holder renews it well within `ttlMs`; when the holder dies, the lease expires
 * and a peer takes it. Work that must not overlap a successor checks the lease atomically with its
 * own writes in the same Redis (see `markNewUnderLease`), so a holder that stalled past its lease
 * cannot act as holder afterwards.
 */
export class RegionLease {
  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    readonly holder: string,
    readonly ttlMs: number,
  ) {}

  /** Takes or renews the lease; false when another node holds it. */
  async acquire(): Promise<boolean> {
    return (await this.redis.eval(ACQUIRE_SCRIPT, 1, this.key, this.holder, this.ttlMs)) === 1;
  }

  /** Gives the lease up at once (a clean hand-over), if still ours. */
  async release(): Promise<void> {
    await this.redis.eval(RELEASE_SCRIPT, 1, this.key, this.holder);
  }

  /** Who holds the lease now, if anyone. */
  async currentHolder(): Promise<string | null> {
    return this.redis.get(this.key);
  }
}
