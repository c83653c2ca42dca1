import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceEvent } from '../../shared';
import { busStreamKey, shardOfRoom } from '../../regions/bus';
import { Redis } from 'ioredis';
import { decodeEnvelope } from '../../regions/outbox';
import { closeAllClients, eventually, sleep } from '../support/clients';
import {
  duplicateIds,
  inRoom,
  member,
  publish,
  receivedAll,
  startThreeRegions,
  type ThreeRegions,
} from './three-regions';

let cluster: ThreeRegions;

beforeAll(async () => {
  cluster = await startThreeRegions();
});
afterAll(() => cluster?.stop());
afterEach(() => closeAllClients());

const RENEW_IF_HELD = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

describe('cross-region delivery through failures', () => {
  it('keeps local delivery through a global Redis outage and delivers the queued envelopes once afterwards', async () => {
    const room = 'xf:outage';
    const usPublisher = await member(cluster, 'us-east', 0, 'out-us-pub', room);
    const usReader = await member(cluster, 'us-east', 1, 'out-us', room);
    const euPublisher = await member(cluster, 'eu-west', 1, 'out-eu-pub', room);
    const euReader = await member(cluster, 'eu-west', 0, 'out-eu', room);
    const apReader = await member(cluster, 'ap-southeast', 1, 'out-ap', room);
    const before = [await publish(usPublisher, room, 'before')];
    await receivedAll(apReader, room, before, 'delivery before the outage');

    await cluster.globalRedis.stop();
    const fromUs: string[] = [];
    const fromEu: string[] = [];
    for (let n = 0; n < 10; n++) {
      fromUs.push(await publish(usPublisher, room, { us: n }));
      fromEu.push(await publish(euPublisher, room, { eu: n }));
      await sleep(500);
    }
    // Local delivery is unaffected while the bus is down.
    await receivedAll(usReader, room, fromUs, 'local delivery in us-east during the outage');
    await receivedAll(euReader, room, fromEu, 'local delivery in eu-west during the outage');
    await cluster.globalRedis.restart();

    await receivedAll(apReader, room, [...fromUs, ...fromEu], 'ap-southeast after the outage');
    await receivedAll(euReader, room, fromUs, 'eu-west after the outage');
    await receivedAll(usReader, room, fromEu, 'us-east after the outage');
    const barrierUs = await publish(usPublisher, room, 'barrier');
    const barrierEu = await publish(euPublisher, room, 'barrier');
    for (const client of [usReader, euReader, apReader])
      await receivedAll(client, room, [barrierUs, barrierEu], 'barriers');
    for (const client of [usReader, euReader, apReader, usPublisher, euPublisher]) {
      expect(duplicateIds(client)).toEqual([]);
    }
    const order = (client: typeof apReader, origin: string) =>
      inRoom(client, room)
        .filter((e) => e.origin === origin)
        .map((e) => e.id);
    expect(order(apReader, 'us-east')).toEqual([...before, ...fromUs, barrierUs]);
    expect(order(apReader, 'eu-west')).toEqual([...fromEu, barrierEu]);
    expect(order(euReader, 'us-east')).toEqual([...before, ...fromUs, barrierUs]);
  });

  it('lets a peer deliver the pending entries of a node killed while holding them', async () => {
    const room = 'xf:crash';
    const shard = shardOfRoom(room, 8);
    const euWest = cluster.regions['eu-west'];
    const regional = new Redis(euWest.redis.url, { maxRetriesPerRequest: 1 });
    try {
      // Shards may be changing hands while the region rebalances: wait for the room's shard to have one.
      let holder: string | null = null;
      await eventually(
        async () => (holder = await regional.get(`rt:bus:lease:${shard}`)) !== null,
        'a shard holder',
      );
      const victimIndex = euWest.nodes.findIndex((n) => n.nodeId === holder);
      expect(victimIndex).toBeGreaterThanOrEqual(0);
      const victim = euWest.nodes[victimIndex]!;
      const survivorIndex = 1 - victimIndex;
      const receiver = await member(cluster, 'eu-west', survivorIndex, 'crash-eu', room);
      await member(cluster, 'eu-west', victimIndex, 'doomed', room);
      const publisher = await member(cluster, 'us-east', 0, 'crash-us', room);
      const observer = await member(cluster, 'us-east', 1, 'crash-observer', room);
      const events: PresenceEvent[] = [];
      observer.on('presence', (event) => events.push(event));
      const warmUp = await publish(publisher, room, 'warm-up');
      await receivedAll(receiver, room, [warmUp], 'warm-up delivery');

      // The holder reads entries and dies before acknowledging them. Freeze it, then read what it has
      // not read yet under its consumer name, exactly as its own read would (a read it was blocked in
      // when frozen is answered by the server all the same): every held entry is then pending to it.
      process.kill(victim.pid, 'SIGSTOP');
      // A stuck node still holds its lease until it dies: renew it on its behalf until the kill, so the
      // peer takes the shard over only from a dead node (a lease that ran out earlier fails the test).
      const leaseKey = `rt:bus:lease:${shard}`;
      const keepVictimLease = async () =>
        expect(await regional.eval(RENEW_IF_HELD, 1, leaseKey, holder!, 3_000)).toBe(1);
      await keepVictimLease();
      const held: string[] = [];
      for (let n = 0; n < 5; n++) held.push(await publish(publisher, room, { n }));
      // Acked publishes reach the global stream once us-east's forwarder has moved them: keep reading
      // until the entry of every held envelope is pending to the frozen node.
      const stream = busStreamKey(shard);
      const heldPendingToVictim = async () => {
        await keepVictimLease();
        await cluster.global.xreadgroup('GROUP', 'eu-west', holder!, 'COUNT', 100, 'STREAMS', stream, '>');
        const pending = (await cluster.global.xpending(stream, 'eu-west', '-', '+', 100, holder!)) as [
          string,
        ][];
        const pendingIds = new Set(pending.map(([entryId]) => entryId));
        const entries = await cluster.global.xrange(stream, '-', '+');
        const entryOf = new Map<string | undefined, string>(
          entries.map(([entryId, fields]) => [decodeEnvelope(fields)?.id, entryId]),
        );
        return held.every((id) => pendingIds.has(entryOf.get(id) ?? ''));
      };
      await eventually(heldPendingToVictim, 'every held entry pending to the frozen node');
      await victim.kill();

      await receivedAll(receiver, room, held, 'delivery by the surviving peer');
      expect(inRoom(receiver, room).map((e) => e.id)).toEqual([warmUp, ...held]);
      const metrics = await (await fetch(`${euWest.nodes[survivorIndex]!.url}/metrics`)).text();
      expect(metrics).toMatch(/rt_bus_claimed_total\{[^}]*\} [1-9]/);

      // The crashed node's member leaves the listings of other regions (node lease 15 s + a refresh).
      const listing = async () => {
        const ack = await observer.emitWithAck('presence', { room });
        return ack.ok ? ack.members.map((m) => m.user) : [];
      };
      expect(await listing()).toContain('doomed');
      await eventually(
        async () => !(await listing()).includes('doomed'),
        'doomed unlisted in us-east',
        30_000,
      );
      await eventually(
        () => events.some((e) => e.user === 'doomed' && e.state === 'leave'),
        'leave event',
        15_000,
      );
    } finally {
      regional.disconnect();
    }
  });
});
