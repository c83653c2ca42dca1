import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalWorld } from '../../harness/world/world';
import { shardOfRoom } from '../../regions/bus';
import { newEnvelopeId, type EnvelopeId } from '../../shared';
import { FAST_BUS_ENV } from '../bus/three-regions';
import { closeAllClients, connectClient, eventually, sleep, type TestClient } from '../support/clients';
import { startTestWorld } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';

/** eu-west on a real Redis Cluster, us-east on one server, joined by the bus both ways. */
let world: LocalWorld;
let euWest: string;
let usEast: string;

beforeAll(async () => {
  world = await startTestWorld({
    regions: [
      { id: 'eu-west', nodes: 1, redisCluster: true },
      { id: 'us-east', nodes: 1 },
    ],
    settings: FAST_BUS_ENV,
  });
  euWest = world.region('eu-west').nodes[0]!.url;
  usEast = world.region('us-east').nodes[0]!.url;
}, 120_000);
afterAll(() => world?.stop());
afterEach(() => closeAllClients());

/** Rooms of every one of the 8 publish groups (bus shards). */
const ROOMS = (() => {
  const byGroup = new Map<number, string>();
  for (let n = 0; byGroup.size < 8; n++) {
    const room = `chat:x-${n}`;
    if (!byGroup.has(shardOfRoom(room, 8))) byGroup.set(shardOfRoom(room, 8), room);
  }
  return [...byGroup.values()];
})();

async function joinAll(client: TestClient): Promise<void> {
  for (const room of ROOMS) expect((await client.emitWithAck('join', { room })).ok).toBe(true);
}

/** Publishes `perRoom` messages to every room, round-robin, and returns the ids by room. */
async function publishAll(client: TestClient, perRoom: number): Promise<Map<string, string[]>> {
  const ids = new Map<string, string[]>(ROOMS.map((room) => [room, []]));
  for (let n = 0; n < perRoom; n++) {
    for (const room of ROOMS) {
      const ack = await client.emitWithAck('publish', { room, data: { n } });
      if (!ack.ok) throw new Error(`publish refused: ${ack.error.code}`);
      ids.get(room)!.push(ack.id);
    }
  }
  return ids;
}

/**
 * A member in `to` joins every room, a publisher in `from` sends 5 envelopes to each, and the member
 * gets each of them once, in publish order per room. Returns the ids sent, by room.
 */
async function expectDeliveredAcross(
  from: { url: string; user: string },
  to: { url: string; user: string; region: string },
): Promise<Map<string, string[]>> {
  const publisher = await connectClient(from.url, await tokenFor(from.user, ['chat:*']));
  const member = await connectClient(to.url, await tokenFor(to.user, ['chat:*']));
  await joinAll(member);
  const sent = await publishAll(publisher, 5);
  const total = ROOMS.length * 5;
  await eventually(() => member.received.length >= total, `every envelope in ${to.region}`, 15_000);
  await sleep(300);
  expect(member.received).toHaveLength(total);
  for (const [room, ids] of sent)
    expect(member.received.filter((e) => e.room === room).map((e) => e.id)).toEqual(ids);
  return sent;
}

describe('a region on a Redis Cluster joined to a region on one server by the bus', () => {
  it("forwards every publish group's outbox: each envelope once, in order per room", async () => {
    await expectDeliveredAcross(
      { url: euWest, user: 'ana' },
      { url: usEast, user: 'ben', region: 'us-east' },
    );
  });

  it('delivers what arrives on the cluster once, in order per room, and refuses its ids to local publishers', async () => {
    const sent = await expectDeliveredAcross(
      { url: usEast, user: 'cleo' },
      { url: euWest, user: 'dev', region: 'eu-west' },
    );
    // A remote id reused in eu-west, by another user, in a room of another publish group.
    const mallory = await connectClient(euWest, await tokenFor('mallory', ['chat:*']));
    const [firstRoom, otherRoom] = ROOMS as [string, string];
    const remoteId = sent.get(firstRoom)![0]! as EnvelopeId;
    const forged = await mallory.emitWithAck('publish', { room: otherRoom, data: 'forged', id: remoteId });
    expect(forged).toMatchObject({ ok: false, error: { code: 'invalid' } });
    // A fresh id is still accepted.
    const fresh = await mallory.emitWithAck('publish', { room: otherRoom, data: 'ok', id: newEnvelopeId() });
    expect(fresh).toMatchObject({ ok: true });
  });
});
