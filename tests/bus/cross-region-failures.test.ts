import { describe, expect, it } from 'vitest';
import type { PresenceEvent } from '../../shared';
import { inboundStreamKey, shardOfRoom } from '../../regions/bus';
import { Redis } from 'ioredis';
import { decodeEnvelope } from '../../regions/outbox';
import { connectClient, eventually, type TestClient } from '../support/clients';
import { tokenFor } from '../support/tokens';
import { duplicateIds, inRoom, member, publish, receivedAll, useThreeRegions } from './three-regions';
import { keys } from '../../regions/keyspace';

const cluster = useThreeRegions();

/** Failed appends of us-east's forwarder to `peer`, over us-east's nodes. */
async function forwarderFailures(peer: string): Promise<number> {
  let failures = 0;
  for (const node of cluster.regions['us-east'].nodes) {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find(
        (l) => l.startsWith('rt_internal_errors_total{') && l.includes(`component="bus:forwarder:${peer}"`),
      );
    failures += Number(line?.split(' ').at(-1) ?? 0);
  }
  return failures;
}

/** Ids of what `client` received in `room` from `origin`, in arrival order. */
function fromOrigin(client: TestClient, room: string, origin: string): string[] {
  return inRoom(client, room)
    .filter((e) => e.origin === origin)
    .map((e) => e.id);
}

/** `promise`, or a failure naming `what` if it is not answered within a command deadline and a margin. */
async function answeredWithin<T>(promise: Promise<T>, what: string, ms = 6_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not answered within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const RENEW_IF_HELD = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

describe('cross-region delivery through failures', () => {
  it('keeps delivering within and across regions through a global Redis outage', async () => {
    const room = 'xf:outage';
    const usPublisher = await member(cluster, 'us-east', 0, 'out-us-pub', room);
    const usReader = await member(cluster, 'us-east', 1, 'out-us', room);
    const euPublisher = await member(cluster, 'eu-west', 1, 'out-eu-pub', room);
    const euReader = await member(cluster, 'eu-west', 0, 'out-eu', room);
    const apReader = await member(cluster, 'ap-southeast', 1, 'out-ap', room);
    const before = [await publish(usPublisher, room, 'before')];
    await receivedAll(apReader, room, before, 'delivery before the outage');

    // The global Redis holds only the control plane (health, presence): envelopes do not pass it.
    await cluster.globalRedis.stop();
    const fromUs: string[] = [];
    const fromEu: string[] = [];
    for (let n = 0; n < 10; n++) {
      fromUs.push(await publish(usPublisher, room, { us: n }));
      fromEu.push(await publish(euPublisher, room, { eu: n }));
    }
    await receivedAll(usReader, room, [...fromUs, ...fromEu], 'us-east during the outage');
    await receivedAll(euReader, room, [...fromUs, ...fromEu], 'eu-west during the outage');
    await receivedAll(apReader, room, [...fromUs, ...fromEu], 'ap-southeast during the outage');
    await cluster.globalRedis.restart();

    const barrierUs = await publish(usPublisher, room, 'barrier');
    const barrierEu = await publish(euPublisher, room, 'barrier');
    for (const client of [usReader, euReader, apReader])
      await receivedAll(client, room, [barrierUs, barrierEu], 'barriers');
    for (const client of [usReader, euReader, apReader, usPublisher, euPublisher]) {
      expect(duplicateIds(client)).toEqual([]);
    }
    expect(fromOrigin(apReader, room, 'us-east')).toEqual([...before, ...fromUs, barrierUs]);
    expect(fromOrigin(apReader, room, 'eu-west')).toEqual([...fromEu, barrierEu]);
    expect(fromOrigin(euReader, room, 'us-east')).toEqual([...before, ...fromUs, barrierUs]);
  });

  it('answers every request within its deadline while the global Redis hangs, and delivers across regions', async () => {
    const room = 'xf:frozen-global';
    const us = await member(cluster, 'us-east', 0, 'fg-us', room);
    const eu = await member(cluster, 'eu-west', 0, 'fg-eu', room);
    const ap = await member(cluster, 'ap-southeast', 1, 'fg-ap', room);
    // A hung host or a partition: the connections stay open and nothing answers (not a refusal).
    process.kill(cluster.globalRedis.pid, 'SIGSTOP');
    const ids: string[] = [];
    try {
      for (let n = 0; n < 5; n++) ids.push(await answeredWithin(publish(us, room, { n }), 'publish'));
      const presence = await answeredWithin(us.emitWithAck('presence', { room }), 'presence');
      expect(presence).toMatchObject({ ok: true });
      expect(presence.ok && presence.members.map((m) => m.user)).toContain('fg-us');
      const late = await answeredWithin(
        connectClient(cluster.regions['eu-west'].nodes[1]!.url, await tokenFor('fg-late')),
        'a handshake',
      );
      expect(await answeredWithin(late.emitWithAck('join', { room }), 'join')).toMatchObject({ ok: true });
      ids.push(await answeredWithin(publish(late, room, 'from the latecomer'), 'publish'));
      for (const client of [eu, ap])
        await receivedAll(client, room, ids, 'delivery with the global Redis hung');
      await receivedAll(us, room, ids.slice(-1), 'the latecomer in us-east');
    } finally {
      process.kill(cluster.globalRedis.pid, 'SIGCONT');
    }
    for (const client of [us, eu, ap]) expect(duplicateIds(client)).toEqual([]);
  });

  it('delays only the destination of a cut link, and delivers what waited once, in order, when it is back', async () => {
    const room = 'xf:partition';
    const usPublisher = await member(cluster, 'us-east', 0, 'part-us-pub', room);
    const euPublisher = await member(cluster, 'eu-west', 0, 'part-eu-pub', room);
    const euReader = await member(cluster, 'eu-west', 1, 'part-eu', room);
    const apReader = await member(cluster, 'ap-southeast', 0, 'part-ap', room);
    const before = [await publish(usPublisher, room, 'before')];
    await receivedAll(apReader, room, before, 'delivery before the partition');

    await cluster.links.cut('us-east', 'ap-southeast');
    const fromUs: string[] = [];
    const fromEu: string[] = [];
    for (let n = 0; n < 10; n++) {
      fromUs.push(await publish(usPublisher, room, { us: n }));
      fromEu.push(await publish(euPublisher, room, { eu: n }));
    }
    // Every other path keeps flowing: eu-west gets us-east's envelopes, ap-southeast eu-west's.
    await receivedAll(euReader, room, fromUs, 'eu-west during the partition');
    await receivedAll(apReader, room, fromEu, 'ap-southeast from eu-west during the partition');
    expect(fromOrigin(apReader, room, 'us-east')).toEqual(before);
    const metrics = await (await fetch(`${cluster.regions['us-east'].nodes[0]!.url}/readyz`)).json();
    expect(JSON.stringify(metrics)).toContain('"peer:ap-southeast":"down"');

    await cluster.links.restore('us-east', 'ap-southeast');
    await receivedAll(apReader, room, fromUs, 'ap-southeast after the partition');
    const barrier = await publish(usPublisher, room, 'barrier');
    for (const client of [euReader, apReader]) await receivedAll(client, room, [barrier], 'barrier');
    for (const client of [euReader, apReader]) expect(duplicateIds(client)).toEqual([]);
    expect(fromOrigin(apReader, room, 'us-east')).toEqual([...before, ...fromUs, barrier]);
    expect(fromOrigin(apReader, room, 'eu-west')).toEqual(fromEu);
    expect(fromOrigin(euReader, room, 'us-east')).toEqual([...before, ...fromUs, barrier]);
    // The failed appends were counted, by component.
    expect(await forwarderFailures('ap-southeast')).toBeGreaterThan(0);
  });

  it('gives up on a link that hangs, keeps the other paths flowing, and delivers once, in order, after it heals', async () => {
    const room = 'xf:frozen';
    const usPublisher = await member(cluster, 'us-east', 1, 'frozen-us-pub', room);
    const euReader = await member(cluster, 'eu-west', 0, 'frozen-eu', room);
    const apReader = await member(cluster, 'ap-southeast', 1, 'frozen-ap', room);
    const before = [await publish(usPublisher, room, 'before')];
    await receivedAll(euReader, room, before, 'delivery before the link hangs');
    const failuresBefore = await forwarderFailures('eu-west');

    // Connections stay open and nothing answers: only deadlines notice.
    cluster.links.freeze('us-east', 'eu-west');
    const held: string[] = [];
    for (let n = 0; n < 10; n++) held.push(await publish(usPublisher, room, { n }));
    await receivedAll(apReader, room, held, 'ap-southeast while the link to eu-west hangs');
    expect(fromOrigin(euReader, room, 'us-east')).toEqual(before);
    await eventually(
      async () => (await forwarderFailures('eu-west')) > failuresBefore,
      'the hung appends given up and counted',
      15_000,
    );

    // What was held in the link arrives, then the retries of it: each envelope once, in order.
    cluster.links.thaw('us-east', 'eu-west');
    await receivedAll(euReader, room, held, 'eu-west after the link healed');
    const barrier = await publish(usPublisher, room, 'barrier');
    await receivedAll(euReader, room, [barrier], 'barrier');
    expect(duplicateIds(euReader)).toEqual([]);
    expect(fromOrigin(euReader, room, 'us-east')).toEqual([...before, ...held, barrier]);
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
        async () => (holder = await regional.get(keys.shardLease(shard))) !== null,
        'a shard holder',
      );
      const victimIndex = euWest.nodes.findIndex((n) => n.id === holder);
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
      const leaseKey = keys.shardLease(shard);
      const keepVictimLease = async () =>
        expect(await regional.eval(RENEW_IF_HELD, 1, leaseKey, holder!, 3_000)).toBe(1);
      await keepVictimLease();
      const held: string[] = [];
      for (let n = 0; n < 5; n++) held.push(await publish(publisher, room, { n }));
      // Acked publishes reach eu-west's inbound shard once us-east's forwarder has appended them: keep
      // reading until the entry of every held envelope is pending to the frozen node.
      const stream = inboundStreamKey(shard);
      const heldPendingToVictim = async () => {
        await keepVictimLease();
        await regional.xreadgroup('GROUP', 'eu-west', holder!, 'COUNT', 100, 'STREAMS', stream, '>');
        const pending = (await regional.xpending(stream, 'eu-west', '-', '+', 100, holder!)) as [string][];
        const pendingIds = new Set(pending.map(([entryId]) => entryId));
        const entries = await regional.xrange(stream, '-', '+');
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
