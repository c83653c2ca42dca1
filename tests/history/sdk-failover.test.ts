import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope, EnvelopeId } from '../../shared';
import { RealtimeClient } from '../../shared/sdk/index';
import { eventually, sleep } from '../support/clients';
import type { RegionProcess } from '../support/region-process';
import { tokenFor } from '../support/tokens';
import { startFailoverProxy, type FailoverProxy } from './support/failover-proxy';
import { startHistoryStack, type HistoryStack } from './support/stack';

let stack: HistoryStack;
let nodes: RegionProcess[];
let balancer: FailoverProxy;
const clients: RealtimeClient[] = [];

beforeAll(async () => {
  stack = await startHistoryStack({ replicas: 0 });
  nodes = await stack.startRegion('us-east', 2, { HISTORY_CLAIM_IDLE_MS: '1500' });
  balancer = await startFailoverProxy(nodes.map((n) => n.port));
});

afterAll(async () => {
  for (const client of clients) client.close();
  await balancer?.close();
  await stack?.stop();
});

async function sdkClient(url: string, user: string): Promise<RealtimeClient> {
  const client = new RealtimeClient({ url, token: await tokenFor(user), ackTimeoutMs: 2_000 });
  clients.push(client);
  await eventually(() => client.connected, `${user} connected`);
  return client;
}

describe('the SDK across a node crash', () => {
  it('has every message exactly once, in order, after its node is SIGKILLed mid-stream', async () => {
    const room = 'sdk:failover';
    const [first, peer] = nodes as [RegionProcess, RegionProcess];
    const subscriber = await sdkClient(balancer.url, 'sub');
    const sessions: string[] = [];
    subscriber.on('session', (info) => sessions.push(info.node));
    const received: Envelope[] = [];
    subscriber.on('message', (envelope) => received.push(envelope));
    const rejoins: number[] = [];
    subscriber.on('rejoined', ({ missed }) => rejoins.push(missed));
    await subscriber.join(room);

    // One publisher on the surviving node streams; another, behind the balancer, loses its node too.
    const streamer = await sdkClient(peer.url, 'streamer');
    const mover = await sdkClient(balancer.url, 'mover');
    const streamed: EnvelopeId[] = [];
    const streaming = (async () => {
      for (let n = 0; n < 60; n++) {
        streamed.push((await streamer.publish(room, { n })).id);
        await sleep(10);
      }
    })();

    await eventually(() => received.length >= 15, 'the stream to reach the subscriber');
    await first.kill();
    await eventually(() => !mover.connected, 'the mover to notice');
    const moved: EnvelopeId[] = [];
    for (let n = 0; n < 3; n++) moved.push((await mover.publish(room, { moved: n })).id);
    await streaming;

    const expected = new Set([...streamed, ...moved]);
    await eventually(() => received.length >= expected.size, 'every message at the subscriber', 20_000);
    const ids = received.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length); // exactly once
    expect(new Set(ids)).toEqual(expected);
    expect(ids.filter((id) => streamed.includes(id))).toEqual(streamed); // per-origin order kept
    expect(rejoins.length).toBeGreaterThan(0);
    expect(sessions).toContain(peer.id); // reconnected through the balancer to the peer
    expect(subscriber.lastId(room)).toBe(ids[ids.length - 1]);

    // History is complete too: the peer took over what the dead node's writer had in hand.
    await eventually(
      async () => {
        await sleep(200); // polled within the per-connection request rate
        return (await subscriber.history(room, { limit: 100 })).length === expected.size;
      },
      'complete history',
      20_000,
    );
    const stored = await subscriber.history(room, { limit: 100 });
    expect(new Set(stored.map((m) => m.id))).toEqual(expected);
    // In the streamer's order, and each envelope once in the table (no replica here: the primary itself).
    expect(stored.map((m) => m.id).filter((id) => streamed.includes(id))).toEqual(streamed);
    const sql = postgres(stack.pg.primary.url, { max: 1, onnotice: () => undefined });
    try {
      const [row] = await sql`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM messages
        WHERE room = ${room}`;
      expect(row).toEqual({ n: expected.size, d: expected.size });
    } finally {
      await sql.end();
    }
  });
});
