import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope, EnvelopeId } from '../../shared';
import { RealtimeClient } from '../../shared/sdk/index';
import { keys } from '../../regions/keyspace';
import { eventually, sleep } from '../support/clients';
import { tokenFor } from '../support/tokens';
import { startClusterRegion, type ClusterRegion } from './cluster-region';

let region: ClusterRegion;
const clients: RealtimeClient[] = [];

beforeAll(async () => {
  region = await startClusterRegion({ nodes: 2 });
});
afterAll(async () => {
  for (const client of clients) client.close();
  await region?.stop();
});

async function sdkClient(url: string, user: string): Promise<RealtimeClient> {
  const client = new RealtimeClient({ url, token: await tokenFor(user, ['chat:*']), ackTimeoutMs: 2_000 });
  clients.push(client);
  await eventually(() => client.connected, `${user} connected`);
  return client;
}

/** A room whose sharded adapter channel lives on the master that serves `key` too. */
async function roomOnMasterOf(key: string, prefix: string): Promise<string> {
  const target = await region.cluster.masterOf(key);
  for (let n = 0; ; n++) {
    const room = `${prefix}-${n}`;
    if ((await region.cluster.masterOf(`rt:sio#/#${room}#`)).port === target.port) return room;
  }
}

function collect(client: RealtimeClient): Envelope[] {
  const received: Envelope[] = [];
  client.on('message', (envelope) => received.push(envelope));
  return received;
}

describe('a master of the region Redis Cluster killed mid-stream', () => {
  it('loses and doubles nothing for SDK clients on either node', async () => {
    const [nodeA, nodeB] = region.nodes.map((n) => n.url) as [string, string];
    // The room's channel and the recent buffers share the master that dies.
    const room = await roomOnMasterOf(keys.recentRooms(), 'chat:failover');
    const publisher = await sdkClient(nodeA, 'pub');
    const onA = await sdkClient(nodeA, 'local');
    const onB = await sdkClient(nodeB, 'remote');
    const receivedA = collect(onA);
    const receivedB = collect(onB);
    const rejoins: { missed: number }[] = [];
    onB.on('rejoined', (info) => rejoins.push(info));
    await onA.join(room);
    await onB.join(room);

    const published: EnvelopeId[] = [];
    const streaming = (async () => {
      for (let n = 0; n < 80; n++) {
        published.push((await publisher.publish(room, { n })).id);
        await sleep(25);
      }
    })();
    await eventually(() => receivedB.length >= 15, 'the stream to reach the other node');
    const victim = await region.cluster.masterOf(`rt:sio#/#${room}#`);
    await victim.kill();
    await region.cluster.waitForFailover(victim.port);
    await streaming;

    for (const [name, received] of [
      ['same node', receivedA],
      ['other node', receivedB],
    ] as const) {
      await eventually(() => received.length >= published.length, `every message on the ${name}`, 20_000);
    }
    await sleep(500);
    for (const received of [receivedA, receivedB]) {
      const ids = received.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual([...published].sort());
    }
    // The node of the other member told it to resync once its subscriptions were back.
    expect(rejoins.length).toBeGreaterThan(0);
  });
});
