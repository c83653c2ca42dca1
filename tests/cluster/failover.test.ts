import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope, EnvelopeId } from '../../shared';
import { RealtimeClient } from '../../shared/sdk/index';
import { shardOfRoom } from '../../regions/bus';
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

/** A room whose sharded adapter channel lives on the master that serves its `victimKeyOf(room)` too. */
async function roomOnMasterOf(victimKeyOf: (room: string) => string, prefix: string): Promise<string> {
  for (let n = 0; ; n++) {
    const room = `${prefix}-${n}`;
    const target = await region.cluster.masterOf(victimKeyOf(room));
    if ((await region.cluster.masterOf(`rt:sio#/#${room}#`)).port === target.port) return room;
  }
}

function collect(client: RealtimeClient): Envelope[] {
  const received: Envelope[] = [];
  client.on('message', (envelope) => received.push(envelope));
  return received;
}

interface StreamResult {
  published: EnvelopeId[];
  /** What the members on the publisher's node and on the other node received, in order. */
  received: { sameNode: Envelope[]; otherNode: Envelope[] };
  /** Rejoins of the member on the other node. */
  rejoins: number;
}

/**
 * SDK clients on both nodes in a room whose channel lives on the master that serves
 * `victimKeyOf(room)`; one of them publishes 80 messages, 25 ms apart, and that master is SIGKILLed
 * after 15 reached the other node. Resolves once every member has every message, or fails after 20 s.
 */
async function streamThroughFailover(
  victimKeyOf: (room: string) => string,
  name: string,
): Promise<StreamResult> {
  const [nodeA, nodeB] = region.nodes.map((n) => n.url) as [string, string];
  const room = await roomOnMasterOf(victimKeyOf, `chat:${name}`);
  const victimKey = victimKeyOf(room);
  const publisher = await sdkClient(nodeA, `${name}-pub`);
  const onA = await sdkClient(nodeA, `${name}-local`);
  const onB = await sdkClient(nodeB, `${name}-remote`);
  const received = { sameNode: collect(onA), otherNode: collect(onB) };
  let rejoins = 0;
  onB.on('rejoined', () => rejoins++);
  await onA.join(room);
  await onB.join(room);

  const published: EnvelopeId[] = [];
  const streaming = (async () => {
    for (let n = 0; n < 80; n++) {
      published.push((await publisher.publish(room, { n })).id);
      await sleep(25);
    }
  })();
  await eventually(() => received.otherNode.length >= 15, 'the stream to reach the other node');
  const victim = await region.cluster.masterOf(victimKey);
  await victim.kill();
  await region.cluster.waitForFailover(victim.port);
  await streaming;
  for (const [where, envelopes] of Object.entries(received)) {
    await eventually(() => envelopes.length >= published.length, `every message on the ${where}`, 20_000);
  }
  await sleep(500);
  return { published, received, rejoins };
}

function expectExactlyOnce(envelopes: Envelope[], published: EnvelopeId[]): void {
  const ids = envelopes.map((e) => e.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort()).toEqual([...published].sort());
}

describe('a master of the region Redis Cluster killed mid-stream (its replica takes over)', () => {
  it("loses and doubles nothing for SDK clients when it served the room's channel and its recent buffer", async () => {
    // The room's recent-history group: its buffer and its group's bounds (the default 8 bus shards).
    const recentGroup = (room: string) => keys.groupRecentRooms(shardOfRoom(room, 8));
    const { published, received, rejoins } = await streamThroughFailover(recentGroup, 'recent');
    expectExactlyOnce(received.sameNode, published);
    expectExactlyOnce(received.otherNode, published);
    // The other member's node told it to resync once its subscriptions were back.
    expect(rejoins).toBeGreaterThan(0);
  });

  it("loses and doubles nothing for SDK clients when it served the room's channel and the publish log", async () => {
    // The room's publish group: its outbox stream and retry records (the default 8 bus shards).
    const groupOutbox = (room: string) => keys.groupOutbox(shardOfRoom(room, 8));
    const { published, received, rejoins } = await streamThroughFailover(groupOutbox, 'publish');
    expectExactlyOnce(received.sameNode, published);
    expectExactlyOnce(received.otherNode, published);
    expect(rejoins).toBeGreaterThan(0);
  });
});
