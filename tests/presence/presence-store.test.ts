import { describe, expect, it } from 'vitest';
import { createLogger } from '../../regions/log';
import { RegionMetrics } from '../../regions/metrics';
import { GlobalPresence, RegionalPresence } from '../../regions/presence';
import type { GlobalPresenceDeps } from '../../regions/presence/global-presence';
import { redisForFile } from '../support/redis-for-file';

// The cost of presence in a big room, counted in commands the real Redis executed (INFO commandstats,
// which counts the commands a script runs too): it must not grow with the room, and a listing is one
// script call (one round trip) whatever the room's size.

const file = redisForFile();
const log = createLogger('silent', { region: 'eu-west', node: 'n1' });
const timing = { leaveGraceMs: 5_000, nodeLeaseMs: 15_000 };

/** Commands the server executed while `fn` ran (INFO and CONFIG excluded). */
async function commandsDuring(fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const redis = file.client;
  await redis.config('RESETSTAT');
  await fn();
  const stats = await redis.info('commandstats');
  const calls: Record<string, number> = {};
  for (const [, name, n] of stats.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    if (!/^(info|config)/.test(name!)) calls[name!] = Number(n);
  }
  return calls;
}

async function fill(store: RegionalPresence, room: string, users: number): Promise<void> {
  for (let start = 0; start < users; start += 500) {
    const batch = Array.from({ length: Math.min(500, users - start) }, (_, i) => `user-${start + i}`);
    await Promise.all(batch.map((user) => store.add(room, user, { name: user })));
  }
}

describe('presence of a room with 10,000 members', () => {
  it('costs the same few commands per join as in an empty room, and one command to list', async () => {
    const store = new RegionalPresence(file.client, 'eu-west', 'n1', timing);
    await fill(store, 'big', 10_000);

    const joinBig = await commandsDuring(() => store.add('big', 'newcomer', undefined));
    const joinEmpty = await commandsDuring(() => store.add('empty', 'newcomer', undefined));
    expect(joinBig).toEqual(joinEmpty);
    expect(joinBig).toEqual({ eval: 1, hincrby: 2, zadd: 1, zrem: 1 });

    let listing: Awaited<ReturnType<RegionalPresence['members']>> | undefined;
    const list = await commandsDuring(async () => (listing = await store.members('big', 1_000)));
    expect(list).toEqual({ eval: 1, zcard: 1, zrange: 1, hmget: 1 });
    expect(listing!.count).toBe(10_001);
    expect(listing!.members).toHaveLength(1_000);
    expect(listing!.members[0]).toEqual({ user: 'user-0', region: 'eu-west', info: { name: 'user-0' } });

    const leaveBig = await commandsDuring(() => store.remove('big', 'newcomer'));
    const leaveEmpty = await commandsDuring(() => store.remove('empty', 'newcomer'));
    expect(leaveBig).toEqual(leaveEmpty);
  });

  it("reads other regions' count and first members from the global Redis in one command", async () => {
    const members = (region: string, n: number) =>
      Array.from({ length: n }, (_, i) => [i, `${region}-user-${i}`]).flat() as (string | number)[];
    await file.client
      .multi()
      .sadd('rt:gpresence:{big}:regions', 'us-east', 'ap-southeast', 'eu-west')
      .zadd('rt:gpresence:{big}:r:us-east', ...members('us', 6_000))
      .zadd('rt:gpresence:{big}:r:ap-southeast', ...members('ap', 4_000))
      .zadd('rt:gpresence:{big}:r:eu-west', ...members('eu', 10))
      .hset('rt:gpresence:{big}:i:us-east', 'us-user-0', '{"name":"first"}')
      .hset('rt:gpresence:{big}:i:ap-southeast', 'ap-user-0', '{"name":"first"}')
      .exec();
    const global = new GlobalPresence({
      region: 'eu-west',
      globalRedis: file.client,
      log,
      metrics: new RegionMetrics({ region: 'eu-west', node: 'n1' }),
    } as unknown as GlobalPresenceDeps);
    let remote: Awaited<ReturnType<GlobalPresence['remoteMembers']>> | undefined;
    const calls = await commandsDuring(async () => (remote = await global.remoteMembers('big', 1_000)));
    // One script; inside it, a region whose first page filled the answer is only counted.
    expect(calls).toEqual({ eval: 1, smembers: 1, zcard: 2, zrange: 1, hmget: 1 });
    expect(remote!.count).toBe(10_000);
    expect(remote!.members).toHaveLength(1_000);
    expect(remote!.members.some((m) => m.region === 'eu-west')).toBe(false);
    // Regions come in set order; each region's members in join order, with their info.
    const first = remote!.members[0]!;
    expect(first).toEqual({
      user: `${first.region.slice(0, 2)}-user-0`,
      region: first.region,
      info: { name: 'first' },
    });
  });
});
