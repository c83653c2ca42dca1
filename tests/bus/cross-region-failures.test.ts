import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceEvent } from '../../shared';
import { busStreamKey, shardOfRoom } from '../../regions/bus';
import { Redis } from 'ioredis';
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

      // Frozen mid-read: the bus hands it an entry it never processes; then it dies. The pause lets
      // it acknowledge the warm-up and wait in its next read first.
      await sleep(200);
      process.kill(victim.pid, 'SIGSTOP');
      const held: string[] = [];
      for (let n = 0; n < 5; n++) held.push(await publish(publisher, room, { n }));
      await eventually(async () => {
        const pending = (await cluster.global.xpending(
          busStreamKey(shard),
          'eu-west',
          '-',
          '+',
          100,
          holder!,
        )) as unknown[];
        // A blocked read is answered with what arrived first; the rest waits in the shard.
        return pending.length >= 1;
      }, 'entries pending to the frozen node');
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
