import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HISTORY_GROUP } from '../../regions/history';
import { OUTBOX_STREAM, decodeEnvelope } from '../../regions/outbox';
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
  // A history INSERT waits out the test's table lock (a few seconds at most) instead of timing out.
  nodes = await stack.startRegion('us-east', 2, {
    HISTORY_CLAIM_IDLE_MS: '1500',
    POSTGRES_DEADLINE_MS: '20000',
  });
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
    const sql = postgres(stack.pg.primary.url, { max: 2, onnotice: () => undefined });
    const redis = new Redis(stack.regionRedisUrl('us-east'), { maxRetriesPerRequest: 1 });
    try {
      // The outbox entries the dying node's history writer has read and not yet written.
      const inHandOfFirst = async () => {
        const pending = (await redis.xpending(OUTBOX_STREAM, HISTORY_GROUP, '-', '+', 1000, first.id)) as [
          string,
        ][];
        return pending.map(([entry]) => entry);
      };
      // Hold every history INSERT (reads still go through) so that the node killed next surely has
      // entries in hand: what its peer must take over for history to be complete.
      const lock = await sql.reserve();
      const beforeKill: EnvelopeId[] = [];
      let inHand: string[] = [];
      try {
        await lock`BEGIN`;
        await lock`LOCK TABLE messages IN EXCLUSIVE MODE`;
        await eventually(async () => {
          if ((await inHandOfFirst()).length > 0) return true;
          beforeKill.push((await mover.publish(room, { beforeKill: beforeKill.length })).id);
          return false;
        }, "the first node's writer to hold entries");
        await first.kill();
        inHand = await inHandOfFirst();
        // The dead node's INSERT still waits in its Postgres session, and would run once the lock
        // goes: end its sessions, so that what it had in hand can only reach Postgres through the peer.
        await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = ${`rt-history:${first.id}`}`;
      } finally {
        await lock`COMMIT`;
        lock.release();
      }
      expect(inHand.length).toBeGreaterThan(0);
      const inHandIds = await Promise.all(
        inHand.map(async (entry) => {
          const [[, fields]] = (await redis.xrange(OUTBOX_STREAM, entry, entry)) as [[string, string[]]];
          return decodeEnvelope(fields)!.id;
        }),
      );
      await eventually(() => !mover.connected, 'the mover to notice');
      const moved: EnvelopeId[] = [];
      for (let n = 0; n < 3; n++) moved.push((await mover.publish(room, { moved: n })).id);
      await streaming;

      const expected = new Set([...streamed, ...beforeKill, ...moved]);
      expect(inHandIds.every((id) => expected.has(id))).toBe(true);
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
        async () => (await inHandOfFirst()).length === 0,
        "the peer to take over the first node's entries",
        20_000,
      );
      const storedIds = async () =>
        (await sql<{ id: string }[]>`SELECT id::text FROM messages WHERE room = ${room}`).map((r) => r.id);
      await eventually(
        async () => (await storedIds()).length >= expected.size,
        'every envelope stored',
        20_000,
      );
      // Each published envelope is in Postgres, none missing and nothing else, among them those the
      // dead node had read and not written.
      const stored = await storedIds();
      expect(stored.sort()).toEqual([...expected].sort());
      expect(stored).toEqual(expect.arrayContaining(inHandIds));
      // The SDK's history reads answer all of them, in the streamer's order.
      const history = await subscriber.history(room, { limit: 100 });
      expect(new Set(history.map((m) => m.id))).toEqual(expected);
      expect(history.map((m) => m.id).filter((id) => streamed.includes(id))).toEqual(streamed);
    } finally {
      redis.disconnect();
      await sql.end();
    }
  });
});
