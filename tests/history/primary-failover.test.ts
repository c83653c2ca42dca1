import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEnvelopeId, type Envelope, type EnvelopeId } from '../../shared';
import { connectClient, eventually, sleep } from '../support/clients';
import type { RegionProcess } from '../support/region-process';
import { tokenFor } from '../support/tokens';
import { startHistoryStack, type HistoryStack } from './support/stack';

let stack: HistoryStack;
let nodes: RegionProcess[];
let token: string;

beforeAll(async () => {
  stack = await startHistoryStack({ replicas: 1 });
  const { primary, replicas } = stack.pg;
  // Both servers in DATABASE_URL: the writer connects to whichever takes writes.
  const bothHosts = primary.url.replace(
    `:${primary.port}/`,
    `:${primary.port},127.0.0.1:${replicas[0]!.port}/`,
  );
  nodes = await stack.startRegion('us-east', 2, { DATABASE_URL: bothHosts, POSTGRES_DEADLINE_MS: '1000' });
  token = await tokenFor('alice');
});

afterAll(async () => {
  await stack?.stop();
});

describe('Postgres primary failover', () => {
  it('promotes the replica; nodes follow without a restart and history written during the switch is complete', async () => {
    const room = 'failover:primary';
    const published: EnvelopeId[] = [];
    let publishing = true;
    const publishers = nodes.map(async (node) => {
      const client = await connectClient(node.url, token);
      while (publishing) {
        const id = newEnvelopeId();
        const ack = await client.timeout(5_000).emitWithAck('publish', { room, data: { id }, id });
        expect(ack.ok).toBe(true); // publishing never waits on Postgres
        published.push(id);
        await sleep(30);
      }
      client.close();
    });

    const oldPrimary = stack.pg.primary;
    const promoted = stack.pg.replicas[0]!;
    const onPromoted = postgres(promoted.url, { max: 1, onnotice: () => undefined });
    try {
      await eventually(
        async () =>
          (await onPromoted`SELECT count(*)::int AS n FROM messages WHERE room = ${room}`)[0]!.n >= 20,
        'history replicated before the switch',
      );
      // The switch: the old primary goes away (fenced), the replica is promoted.
      await oldPrimary.stop();
      await sleep(500);
      const [promotion] = await onPromoted`SELECT pg_promote() AS done`;
      expect(promotion!.done).toBe(true);
      await sleep(1_500);
      publishing = false;
      await Promise.all(publishers);

      // Every envelope, once, on the promoted server: written there by the nodes after the switch.
      await eventually(
        async () =>
          (await onPromoted`SELECT count(*)::int AS n FROM messages WHERE room = ${room}`)[0]!.n >=
          published.length,
        'every envelope on the new primary',
        20_000,
      );
      const [row] = await onPromoted`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d
        FROM messages WHERE room = ${room}`;
      expect(row).toEqual({ n: published.length, d: published.length });
      const stored = await onPromoted<{ id: string }[]>`SELECT id FROM messages WHERE room = ${room}`;
      expect(new Set(stored.map((r) => r.id))).toEqual(new Set(published));
      const [writers] =
        await onPromoted`SELECT count(DISTINCT application_name)::int AS n FROM pg_stat_activity
        WHERE application_name LIKE 'rt-history:us-east-%'`;
      expect(writers!.n).toBe(2);

      // Reads follow too: each node pages the newest history from the new primary.
      const newest = (
        await onPromoted<{ id: string }[]>`SELECT id FROM messages WHERE room = ${room}
          ORDER BY ts DESC, id DESC LIMIT 10`
      )
        .map((r) => r.id)
        .reverse();
      for (const node of nodes) {
        const res = await fetch(`${node.url}/v1/rooms/${room}/messages?limit=10`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { messages: Envelope[] };
        expect(body.messages.map((m) => m.id)).toEqual(newest);
      }
    } finally {
      publishing = false;
      await onPromoted.end();
    }
  });
});
