import { describe, expect, it } from 'vitest';
import { LeaseLostError, markNewUnderLease } from '../../regions/bus/fenced-dedup';
import { RegionLease } from '../../regions/bus/lease';
import { keys } from '../../regions/keyspace';
import { redisForFile } from '../support/redis-for-file';

const file = redisForFile();

describe('dedup marks fenced by the shard lease', () => {
  it('marks new ids and reports repeats while the lease is held', async () => {
    const redis = file.client;
    const lease = new RegionLease(redis, keys.shardLease(1), 'node-a', 3_000);
    expect(await lease.acquire()).toBe(true);
    expect(await markNewUnderLease(redis, lease, ['a', 'b'], 60)).toEqual([true, true]);
    expect(await markNewUnderLease(redis, lease, ['b', 'c'], 60)).toEqual([false, true]);
  });

  it('marks nothing for a holder whose lease passed to a peer, so the peer still delivers the batch', async () => {
    const redis = file.client;
    const stalled = new RegionLease(redis, keys.shardLease(2), 'node-a', 200);
    expect(await stalled.acquire()).toBe(true);
    await new Promise((r) => setTimeout(r, 300)); // node-a stalls past its lease
    const successor = new RegionLease(redis, keys.shardLease(2), 'node-b', 3_000);
    expect(await successor.acquire()).toBe(true);

    await expect(markNewUnderLease(redis, stalled, ['x', 'y'], 60)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await redis.exists(keys.seen('x'), keys.seen('y'))).toBe(0);
    expect(await markNewUnderLease(redis, successor, ['x', 'y'], 60)).toEqual([true, true]);
  });

  it('marks nothing when the lease is about to run out', async () => {
    const redis = file.client;
    const lease = new RegionLease(redis, keys.shardLease(3), 'node-a', 4_000);
    expect(await lease.acquire()).toBe(true);
    await redis.pexpire(keys.shardLease(3), 500); // less than a quarter of the TTL left
    await expect(markNewUnderLease(redis, lease, ['z'], 60)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await redis.exists(keys.seen('z'))).toBe(0);
  });

  it("acknowledges the batch's entries in the same step, and none when the lease is lost", async () => {
    const redis = file.client;
    const stream = 'rt:inbound:{5}';
    await redis.xgroup('CREATE', stream, 'eu-west', '0', 'MKSTREAM');
    const ids = [
      await redis.xadd(stream, '*', 'e', '1'),
      await redis.xadd(stream, '*', 'e', '2'),
    ] as string[];
    await redis.xreadgroup('GROUP', 'eu-west', 'node-a', 'COUNT', 10, 'STREAMS', stream, '>');
    const pending = async () => ((await redis.xpending(stream, 'eu-west')) as [number])[0];
    const lease = new RegionLease(redis, keys.shardLease(5), 'node-a', 4_000);
    expect(await lease.acquire()).toBe(true);
    const ack = { stream, group: 'eu-west', ids };
    await redis.pexpire(keys.shardLease(5), 500);
    await expect(markNewUnderLease(redis, lease, ['p'], 60, undefined, ack)).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect(await pending()).toBe(2);
    expect(await lease.acquire()).toBe(true);
    expect(await markNewUnderLease(redis, lease, ['p', 'q'], 60, undefined, ack)).toEqual([true, true]);
    expect(await pending()).toBe(0);
  });
});
