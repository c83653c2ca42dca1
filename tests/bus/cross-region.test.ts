import { describe, expect, it } from 'vitest';
import { newEnvelopeId, type Envelope, type PresenceEvent } from '../../shared';
import { Redis } from 'ioredis';
import { inboundStreamKey, shardOfRoom } from '../../regions/bus';
import { eventually, type TestClient } from '../support/clients';
import {
  REGIONS,
  duplicateIds,
  inRoom,
  member,
  publish,
  receivedAll,
  useThreeRegions,
  type RegionId,
} from './three-regions';

const cluster = useThreeRegions();

/** Sum of a metric's samples (matching `filter`) over the nodes of a region. */
async function metricSum(region: RegionId, name: string, filter = ''): Promise<number> {
  let total = 0;
  for (const node of cluster.regions[region].nodes) {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name}{`) && line.includes(filter)) total += Number(line.split(' ').at(-1));
    }
  }
  return total;
}

describe('cross-region delivery, one hop from origin to destination', () => {
  it('delivers every envelope to every member in every region exactly once, never back to its sender', async () => {
    const room = 'xr:all';
    const members = new Map<string, TestClient>();
    for (const region of REGIONS)
      for (const index of [0, 1])
        members.set(`${region}-${index}`, await member(cluster, region, index, `${region}-${index}`, room));
    const sentBy = new Map<string, string[]>();
    await Promise.all(
      REGIONS.map(async (region) => {
        const ids: string[] = [];
        for (let n = 0; n < 5; n++) ids.push(await publish(members.get(`${region}-0`)!, room, { region, n }));
        sentBy.set(`${region}-0`, ids);
      }),
    );
    const all = [...sentBy.values()].flat();
    for (const [name, client] of members) {
      const expected = all.filter((id) => !sentBy.get(name)?.includes(id));
      await receivedAll(client, room, expected, `delivery to ${name}`);
    }
    // A barrier published after everything: once it arrived, anything duplicated would have too.
    const barrier = await publish(members.get('us-east-1')!, room, 'barrier');
    for (const [name, client] of members)
      if (name !== 'us-east-1') await receivedAll(client, room, [barrier], `barrier at ${name}`);
    for (const [name, client] of members) {
      const own = [...(sentBy.get(name) ?? []), ...(name === 'us-east-1' ? [barrier] : [])];
      const expected = [...all, barrier].filter((id) => !own.includes(id));
      expect(duplicateIds(client), `duplicates at ${name}`).toEqual([]);
      expect(
        inRoom(client, room)
          .map((e) => e.id)
          .sort(),
        `received by ${name}`,
      ).toEqual(expected.sort());
    }
    const delivered = await metricSum('eu-west', 'rt_bus_consumed_total', 'result="delivered"');
    expect(delivered).toBeGreaterThanOrEqual(11);
    expect(await metricSum('eu-west', 'rt_bus_lag_seconds_count')).toBeGreaterThanOrEqual(11);
    // The two legs of that lag on either side of the WAN: the origin's forwarding, the shard's wait.
    expect(await metricSum('eu-west', 'rt_bus_inbound_wait_seconds_count')).toBeGreaterThanOrEqual(11);
    expect(
      await metricSum('us-east', 'rt_bus_forward_wait_seconds_count', 'peer="eu-west"'),
    ).toBeGreaterThanOrEqual(6);
    expect(await metricSum('us-east', 'rt_bus_published_total', 'peer="eu-west"')).toBeGreaterThanOrEqual(6);
    expect(
      await metricSum('us-east', 'rt_bus_published_total', 'peer="ap-southeast"'),
    ).toBeGreaterThanOrEqual(6);
    // Publish-to-delivery latency, by origin: eu-west's nodes emitted us-east's 6 envelopes (5 and
    // the barrier) and their own region's 5 (origin eu-west, counted by the accepting node).
    const latency = 'rt_delivery_latency_seconds_count';
    expect(await metricSum('eu-west', latency, 'origin="us-east"')).toBeGreaterThanOrEqual(6);
    expect(await metricSum('eu-west', latency, 'origin="eu-west"')).toBeGreaterThanOrEqual(5);
    const ready = await (await fetch(`${cluster.regions['ap-southeast'].nodes[0]!.url}/readyz`)).json();
    expect(JSON.stringify(ready)).toContain('"globalBus":"up"');
  });

  it('keeps publish order per origin region and room under concurrent publishers', async () => {
    const room = 'xr:order';
    const receivers: TestClient[] = [];
    for (const region of REGIONS)
      for (const index of [0, 1])
        receivers.push(await member(cluster, region, index, `r-${region}-${index}`, room));
    const publishers = [
      { name: 'p-us-0', client: await member(cluster, 'us-east', 0, 'p-us-0', room) },
      { name: 'p-us-1', client: await member(cluster, 'us-east', 1, 'p-us-1', room) },
      { name: 'p-eu-1', client: await member(cluster, 'eu-west', 1, 'p-eu-1', room) },
    ];
    const ids = (
      await Promise.all(
        publishers.map(async ({ name, client }) => {
          const sent: string[] = [];
          for (let n = 0; n < 25; n++) sent.push(await publish(client, room, { p: name, n }));
          return sent;
        }),
      )
    ).flat();
    for (const receiver of receivers)
      await receivedAll(receiver, room, ids, 'every publish at every receiver');
    for (const receiver of receivers) {
      const got = inRoom(receiver, room);
      expect(duplicateIds(receiver)).toEqual([]);
      for (const { name } of publishers) {
        const sequence = got
          .filter((e) => (e.data as { p: string }).p === name)
          .map((e) => (e.data as { n: number }).n);
        expect(sequence).toEqual(Array.from({ length: 25 }, (_, n) => n));
      }
    }
    // Every region other than the origin sees the origin's envelopes in one and the same order.
    for (const origin of ['us-east', 'eu-west'] as const) {
      const remote = receivers.filter((_, i) => REGIONS[Math.floor(i / 2)] !== origin);
      const remoteOrders = remote.map((r) =>
        inRoom(r, room)
          .filter((e) => e.origin === origin)
          .map((e) => e.id),
      );
      expect(remoteOrders[0]).toHaveLength(origin === 'us-east' ? 50 : 25);
      for (const order of remoteOrders) expect(order).toEqual(remoteOrders[0]);
    }
  });

  it('drops duplicates injected straight into the inbound shards, and never echoes to the origin', async () => {
    const room = 'xr:dup';
    const us = await member(cluster, 'us-east', 1, 'dup-us', room);
    const eu = await member(cluster, 'eu-west', 1, 'dup-eu', room);
    const ap = await member(cluster, 'ap-southeast', 0, 'dup-ap', room);
    const publisher = await member(cluster, 'us-east', 0, 'dup-publisher', room);
    const first = await publish(publisher, room, 'first');
    await receivedAll(eu, room, [first], 'first at eu-west');
    await receivedAll(ap, room, [first], 'first at ap-southeast');
    const delivered = inRoom(eu, room)[0]!;
    const injected: Envelope = { ...delivered, id: newEnvelopeId(), data: 'injected', ts: Date.now() };
    const stream = inboundStreamKey(shardOfRoom(room, 8));
    // Into the shard of eu-west and ap-southeast: copies of a delivered envelope and three of a new
    // one. Into us-east's own shard: copies of its own envelope, which it must not echo.
    for (const region of REGIONS) {
      const regional = new Redis(cluster.regions[region].redis.url, { maxRetriesPerRequest: 1 });
      try {
        const copies =
          region === 'us-east'
            ? [delivered, delivered]
            : [delivered, delivered, injected, injected, injected];
        for (const envelope of copies) await regional.xadd(stream, '*', 'e', JSON.stringify(envelope));
      } finally {
        regional.disconnect();
      }
    }
    const barrier = await publish(publisher, room, 'barrier');
    for (const client of [us, eu, ap]) await receivedAll(client, room, [barrier], 'barrier');
    for (const client of [eu, ap]) {
      expect(inRoom(client, room).map((e) => e.data)).toEqual(['first', 'injected', 'barrier']);
    }
    expect(await metricSum('eu-west', 'rt_bus_duplicates_dropped_total', '')).toBeGreaterThanOrEqual(4);
    // us-east is the origin: it delivered `first` and `barrier` itself and skips them on the bus. The
    // barrier never passes through its own shard, so wait until its consumer handled the copies there.
    await eventually(
      async () => (await metricSum('us-east', 'rt_bus_consumed_total', 'result="own"')) >= 2,
      'us-east to skip the copies of its own envelope',
    );
    expect(inRoom(us, room).map((e) => e.data)).toEqual(['first', 'barrier']);
  });

  it('keeps in each inbound shard only what its region has not acknowledged', async () => {
    const room = 'xr:trim';
    const eu = await member(cluster, 'eu-west', 1, 'trim-eu', room);
    const ap = await member(cluster, 'ap-southeast', 1, 'trim-ap', room);
    const publisher = await member(cluster, 'us-east', 0, 'trim-publisher', room);
    const ids: string[] = [];
    for (let n = 0; n < 150; n++) ids.push(await publish(publisher, room, n));
    await receivedAll(eu, room, ids, 'the stream at eu-west');
    await receivedAll(ap, room, ids, 'the stream at ap-southeast');
    // Delivered and acknowledged: the shard consumers trim it away within a few seconds, in every
    // region, down to nothing but entries still pending (none once the stream is delivered).
    const regionals = REGIONS.map(
      (region) =>
        [region, new Redis(cluster.regions[region].redis.url, { maxRetriesPerRequest: 1 })] as const,
    );
    const retained = async () => {
      const left: string[] = [];
      for (const [region, redis] of regionals)
        for (let shard = 0; shard < 8; shard++) {
          const key = inboundStreamKey(shard);
          const length = await redis.xlen(key);
          if (length === 0) continue;
          const [pending] = (await redis.xpending(key, region)) as [number];
          if (length > pending) left.push(`${region} shard ${shard}: ${length} entries, ${pending} pending`);
        }
      return left;
    };
    try {
      // Polled until it holds; the assertion after it names what is left if it never does.
      await eventually(async () => (await retained()).length === 0, 'trimmed shards', 15_000).catch(
        () => undefined,
      );
      expect(await retained()).toEqual([]);
    } finally {
      for (const [, redis] of regionals) redis.disconnect();
    }
  });

  it('lists members of every region and sends presence events across regions', async () => {
    const room = 'xr:presence';
    await member(cluster, 'eu-west', 0, 'alice', room);
    const bob = await member(cluster, 'us-east', 1, 'bob', room);
    const events: PresenceEvent[] = [];
    bob.on('presence', (event) => events.push(event));
    const listing = async () => {
      const ack = await bob.emitWithAck('presence', { room });
      return ack.ok ? ack.members : [];
    };
    await eventually(async () => (await listing()).length === 2, 'alice listed in us-east', 15_000);
    expect(await listing()).toEqual([
      { user: 'bob', region: 'us-east' },
      { user: 'alice', region: 'eu-west' },
    ]);
    const carol = await member(cluster, 'ap-southeast', 0, 'carol', room);
    await eventually(() => events.some((e) => e.user === 'carol' && e.state === 'join'), 'carol join event');
    expect(events.find((e) => e.user === 'carol')).toEqual({
      room,
      user: 'carol',
      region: 'ap-southeast',
      state: 'join',
    });
    await carol.emitWithAck('leave', { room });
    await eventually(
      () => events.some((e) => e.user === 'carol' && e.state === 'leave'),
      'carol leave event',
    );
    await eventually(async () => !(await listing()).some((m) => m.user === 'carol'), 'carol unlisted');
  });
});
