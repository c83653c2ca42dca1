import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeAllClients, connectClient, eventually, sleep } from '../support/clients';
import { tokenFor } from '../support/tokens';
import { startClusterRegion, type ClusterRegion } from './cluster-region';

let region: ClusterRegion;
let nodeA: string;
let nodeB: string;

beforeAll(async () => {
  region = await startClusterRegion({ nodes: 2 });
  [nodeA, nodeB] = region.nodes.map((n) => n.url) as [string, string];
});
afterAll(() => region?.stop());
afterEach(() => closeAllClients());

describe('a region on a Redis Cluster (3 masters, 3 replicas)', () => {
  it('delivers across nodes once, in many rooms spread over the shards', async () => {
    const alice = await connectClient(nodeA, await tokenFor('alice', ['chat:*']));
    const bob = await connectClient(nodeB, await tokenFor('bob', ['chat:*']));
    const rooms = Array.from({ length: 12 }, (_, i) => `chat:spread-${i}`);
    for (const room of rooms) {
      expect((await alice.emitWithAck('join', { room })).ok).toBe(true);
      expect((await bob.emitWithAck('join', { room })).ok).toBe(true);
    }
    const masters = new Set(
      await Promise.all(rooms.map(async (r) => (await region.cluster.masterOf(`rt:sio#/#${r}#`)).port)),
    );
    expect(masters.size).toBeGreaterThan(1);
    const ids: string[] = [];
    for (const room of rooms) {
      const ack = await alice.emitWithAck('publish', { room, data: { room } });
      if (!ack.ok) throw new Error(`publish failed: ${JSON.stringify(ack)}`);
      ids.push(ack.id);
    }
    await eventually(() => bob.received.length === rooms.length, 'delivery of every room to bob');
    await sleep(200);
    expect(bob.received.map((e) => e.id).sort()).toEqual([...ids].sort());
    expect(alice.received).toEqual([]);
  });
});
