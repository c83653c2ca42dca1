import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newEnvelopeId, type Envelope, type EnvelopeId } from '../../shared';
import { shardOfRoom } from '../../regions/bus';
import { keys } from '../../regions/keyspace';
import { closeAllClients, connectClient, eventually, handshakeError, sleep } from '../support/clients';
import { expectPresenceAcrossNodes } from '../support/region-presence';
import { tokenFor } from '../support/tokens';
import { startClusterRegion, type ClusterRegion } from './cluster-region';

let region: ClusterRegion;
let nodeA: string;
let nodeB: string;

beforeAll(async () => {
  region = await startClusterRegion({
    nodes: 2,
    env: { MAX_CONNECTIONS_PER_USER: '2', PUBLISH_RATE_PER_USER: '10', RECENT_HISTORY_LENGTH: '20' },
  });
  [nodeA, nodeB] = region.nodes.map((n) => n.url) as [string, string];
});
afterAll(() => region?.stop());
afterEach(() => closeAllClients());

function toRecord(flat: unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}

/** Waits for the start of a wall-clock second, so a burst falls into one per-user rate window. */
async function startOfSecond(): Promise<void> {
  while (Date.now() % 1000 > 100) await sleep(10);
}

describe('a region on a Redis Cluster (3 masters, 3 replicas)', () => {
  it('delivers across nodes once, in rooms whose channels live on different shards', async () => {
    const alice = await connectClient(nodeA, await tokenFor('alice', ['chat:*']));
    const bob = await connectClient(nodeB, await tokenFor('bob', ['chat:*']));
    const rooms = Array.from({ length: 8 }, (_, i) => `chat:spread-${i}`);
    for (const room of rooms) {
      expect((await alice.emitWithAck('join', { room })).ok).toBe(true);
      expect((await bob.emitWithAck('join', { room })).ok).toBe(true);
    }
    // The sharded adapter's channel of each room (`rt:sio#/#<room>#`) is served by its slot's master.
    const owners = await Promise.all(rooms.map((room) => region.cluster.masterOf(`rt:sio#/#${room}#`)));
    expect(new Set(owners.map((m) => m.port)).size).toBeGreaterThan(1);
    const ids: string[] = [];
    for (const room of rooms) {
      const ack = await alice.emitWithAck('publish', { room, data: { room } });
      if (!ack.ok) throw new Error(`publish refused: ${ack.error.code}`);
      ids.push(ack.id);
    }
    await eventually(() => bob.received.length === rooms.length, 'delivery of every room to bob');
    await sleep(200);
    expect(bob.received.map((e) => e.id).sort()).toEqual([...ids].sort());
    expect(alice.received).toEqual([]);
    // Each room's envelope is in its publish group's outbox, and the history writer reads every one
    // of those streams (this test has no Postgres: what it read stays pending, to be retried).
    const groups = [...new Set(rooms.map((room) => shardOfRoom(room, 8)))];
    expect(groups.length).toBeGreaterThan(1);
    for (const group of groups) {
      const stream = keys.groupOutbox(group);
      const [newest] = await region.redis.xrevrange(stream, '+', '-', 'COUNT', 1);
      const last = newest?.[0];
      expect(last).toBeDefined();
      await eventually(async () => {
        const infos = (await region.redis.xinfo('GROUPS', stream)) as unknown[][];
        const history = infos.map(toRecord).find((info) => info.name === 'history');
        return history?.['last-delivered-id'] === last;
      }, `the history writer to read ${stream}`);
    }
  });

  it('acks a retried publish id with the first ack on either node, stores it once, and delivers it once', async () => {
    const token = await tokenFor('ana', ['chat:*']);
    const ana = await connectClient(nodeA, token);
    const anaOnB = await connectClient(nodeB, token);
    const bob = await connectClient(nodeB, await tokenFor('bob', ['chat:*']));
    await bob.emitWithAck('join', { room: 'chat:retry' });
    const id = newEnvelopeId();
    const first = await ana.emitWithAck('publish', { room: 'chat:retry', data: 1, id });
    const again = await anaOnB.emitWithAck('publish', { room: 'chat:retry', data: 1, id });
    expect(first).toMatchObject({ ok: true, id });
    expect(again).toEqual(first);
    await sleep(300);
    expect(bob.received.map((e) => e.id)).toEqual([id]);
    // Every publish group's outbox (the default 8 bus shards): the envelope is in its room's, once.
    const outboxes = await Promise.all(
      Array.from({ length: 8 }, (_, group) => region.redis.xrange(keys.groupOutbox(group), '-', '+')),
    );
    const holding = outboxes.map(
      (entries) => entries.filter(([, fields]) => fields.join(' ').includes(id)).length,
    );
    expect(holding[shardOfRoom('chat:retry', 8)]).toBe(1);
    expect(holding.reduce((a, b) => a + b)).toBe(1);
  });

  it('limits a user across nodes: connections and publishes per second', async () => {
    const token = await tokenFor('fay');
    const onA = await connectClient(nodeA, token);
    const onB = await connectClient(nodeB, token);
    expect(await handshakeError(nodeA, { token })).toBe('rate_limited');
    // All 12 at once, at the start of a clock second: the limit counts per user per second, so the
    // publishes must reach Redis within one second however slow the machine is.
    await startOfSecond();
    const publishes = [];
    for (let i = 0; i < 6; i++) {
      publishes.push(onA.emitWithAck('publish', { room: 'r', data: i }));
      publishes.push(onB.emitWithAck('publish', { room: 'r', data: i }));
    }
    const acks = await Promise.all(publishes);
    expect(acks.filter((a) => a.ok)).toHaveLength(10);
    expect(acks.filter((a) => !a.ok).map((a) => !a.ok && a.error.code)).toEqual([
      'rate_limited',
      'rate_limited',
    ]);
  });

  it('lists presence across nodes and emits join and leave', () =>
    expectPresenceAcrossNodes(nodeA, nodeB, 'team:*'));

  it('recovers what a client missed from the recent buffer on join { since }', async () => {
    const token = await tokenFor('rui', ['chat:*']);
    const rui = await connectClient(nodeA, token);
    const ids: EnvelopeId[] = [];
    for (let n = 0; n < 5; n++) {
      const id = newEnvelopeId();
      const ack = await rui.emitWithAck('publish', { room: 'chat:recover', data: { n }, id });
      if (!ack.ok) throw new Error(`publish refused: ${ack.error.code}`);
      ids.push(id);
    }
    const back = await connectClient(nodeB, token);
    const missedIds = async () => {
      const res = await back.timeout(5_000).emitWithAck('join', { room: 'chat:recover', since: ids[1]! });
      return res.ok ? res.missed.map((m: Envelope) => m.id) : [];
    };
    await eventually(
      async () => (await missedIds()).length === ids.length - 1,
      'the buffer to hold the room',
    );
    // ids[0], delivered just before since, comes first too (the reorder window; the SDK drops it).
    expect(await missedIds()).toEqual(ids.filter((id) => id !== ids[1]));
    // The buffer is in the room's recent group, beside that group's bounds (the default 8 bus shards).
    const group = shardOfRoom('chat:recover', 8);
    expect(await region.redis.xlen(keys.groupRecent(group, 'chat:recover'))).toBe(ids.length);
    expect(await region.redis.zscore(keys.groupRecentRooms(group), 'chat:recover')).not.toBeNull();
  });
});
