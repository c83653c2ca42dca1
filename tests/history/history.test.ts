import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { migrate } from '../../infra/migrate';
import { ensurePartitions, retentionHorizonMs, utcDay } from '../../regions/history/partitions';
import { insertEnvelopes } from '../../regions/history/store';
import { newEnvelopeId, type Envelope, type EnvelopeId, type JsonValue } from '../../shared';
import { connectClient, eventually, type TestClient } from '../support/clients';
import type { RegionProcess } from '../support/region-process';
import { tokenFor } from '../support/tokens';
import { metricValue, startHistoryStack, type HistoryStack } from './support/stack';

const ROOT = join(import.meta.dirname, '..', '..');
const RECENT_LENGTH = 10;

let stack: HistoryStack;
let us: RegionProcess;
let eu: RegionProcess;
let token: string;

beforeAll(async () => {
  stack = await startHistoryStack({ replicas: 1 });
  const env = { RECENT_HISTORY_LENGTH: String(RECENT_LENGTH) };
  [us] = (await stack.startRegion('us-east', 1, env)) as [RegionProcess];
  [eu] = (await stack.startRegion('eu-west', 1, env)) as [RegionProcess];
  token = await tokenFor('alice');
});

afterAll(async () => {
  await stack?.stop();
});

async function publish(
  client: TestClient,
  room: string,
  n: number,
  id = newEnvelopeId(),
): Promise<EnvelopeId> {
  const ack = await client.timeout(5_000).emitWithAck('publish', { room, data: { n }, id });
  if (!ack.ok) throw new Error(`publish refused: ${ack.error.code}`);
  return id;
}

interface PageBody {
  messages: Envelope[];
  error?: { code: string };
}

/** Sends a raw payload (possibly malformed) and returns `ok` or the error code. */
type UntypedAsk = { emitWithAck(event: string, payload: object): Promise<PageBody & { ok: boolean }> };

async function httpPage(
  node: RegionProcess,
  room: string,
  query = '',
): Promise<{ status: number; body: PageBody }> {
  const res = await fetch(`${node.url}/v1/rooms/${room}/messages${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: await res.json() };
}

/** Waits until the room's stored history (read on `node`) holds `count` messages; returns them. */
async function storedHistory(node: RegionProcess, room: string, count: number): Promise<Envelope[]> {
  let messages: Envelope[] = [];
  await eventually(
    async () => {
      const page = await httpPage(node, room, '?limit=100');
      messages = page.status === 200 ? page.body.messages : [];
      return messages.length >= count;
    },
    `${count} stored messages in ${room}`,
    30_000,
  );
  return messages;
}

describe('migrations', () => {
  it('apply once, then report nothing to do', async () => {
    expect(stack.firstMigration.applied).toEqual([
      '001_messages.sql',
      '002_partition_messages.sql',
      '003_messages_data_json.sql',
    ]);
    expect(await migrate(stack.pg.primary.url)).toMatchObject({ applied: [], alreadyApplied: 3 });
    const run = (args: string[], env: Record<string, string> = {}) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'infra/migrate.ts', ...args], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/DATABASE_URL/);
    const again = run([], { DATABASE_URL: stack.pg.primary.url });
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/up to date/);
    expect(run([], { DATABASE_URL: 'nope' }).status).toBe(2);
  });
});

describe('history pages', () => {
  it('pages history written by each region, oldest first, by before and limit', async () => {
    const room = 'hist:pages';
    const [a, b] = [await connectClient(us.url, token), await connectClient(eu.url, token)];
    const ids: EnvelopeId[] = [];
    for (let n = 0; n < 12; n++) ids.push(await publish(n % 3 === 2 ? b : a, room, n));

    const all = await storedHistory(eu, room, 12);
    expect(all.map((m) => m.id)).toEqual(ids);
    expect(new Set(all.map((m) => m.origin))).toEqual(new Set(['us-east', 'eu-west']));

    const newest = (await httpPage(eu, room, '?limit=5')).body.messages as Envelope[];
    expect(newest.map((m) => m.id)).toEqual(ids.slice(7));
    const middle = (await httpPage(us, room, `?limit=5&before=${newest[0]!.id}`)).body.messages as Envelope[];
    expect(middle.map((m) => m.id)).toEqual(ids.slice(2, 7));
    const viaSocket = await a
      .timeout(5_000)
      .emitWithAck('history', { room, before: middle[0]!.id, limit: 5 });
    expect(viaSocket.ok && viaSocket.messages.map((m: Envelope) => m.id)).toEqual(ids.slice(0, 2));
  });

  it('reads from the replica, and from the primary while the replica is stopped', async () => {
    const room = 'hist:replica';
    const client = await connectClient(us.url, token);
    const ids = [await publish(client, room, 1), await publish(client, room, 2)];
    await storedHistory(us, room, 2);

    const served = (source: string) =>
      metricValue(us.url, 'rt_history_reads_total', { source, kind: 'page' });
    const byReplica = await served('replica');
    expect((await httpPage(us, room)).body.messages.map((m: Envelope) => m.id)).toEqual(ids);
    expect(await served('replica')).toBe(byReplica + 1);
    // A marker on the replica itself: this node's history sessions are connected to it.
    const replicaSql = postgres(stack.pg.replicas[0]!.url, { max: 1 });
    try {
      const [row] = await replicaSql`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE application_name = 'rt-history:us-east-1'`;
      expect(row!.n).toBeGreaterThan(0);
    } finally {
      await replicaSql.end();
    }

    await stack.pg.replicas[0]!.stop();
    try {
      const byPrimary = await served('primary');
      const page = await httpPage(us, room);
      expect(page.status).toBe(200);
      expect(page.body.messages.map((m: Envelope) => m.id)).toEqual(ids);
      expect(await served('primary')).toBe(byPrimary + 1);
      const ready = await fetch(`${us.url}/readyz`);
      expect(ready.status).toBe(200); // a history dependency never takes the node out of routing
      expect((await ready.json()).checks['postgres-replica']).toBe('down');
    } finally {
      await stack.pg.replicas[0]!.start();
    }
  });
});

describe('values as published', () => {
  it('stores data: null and every other JSON value exactly, and history keeps flowing after it', async () => {
    const client = await connectClient(us.url, token);
    const values: JsonValue[] = [null, 0, false, '', [], {}, [null, { a: null }], 12345678901234567000, 1e21];
    values.push('ünïcode ✓ 🎉 \u2028', { nested: { deep: [[[{ x: -0.5 }]]] } }, 5e-324);
    const ids: EnvelopeId[] = [];
    for (const data of values) {
      const ack = await client.timeout(5_000).emitWithAck('publish', { room: 'hist:values', data });
      if (!ack.ok) throw new Error(`publish refused: ${ack.error.code}`);
      ids.push(ack.id as EnvelopeId);
    }
    // The case: after `data: null`, a message to another room still reaches history.
    const after = await publish(client, 'hist:after-null', 1);
    expect((await storedHistory(us, 'hist:after-null', 1)).map((m) => m.id)).toEqual([after]);
    const stored = await storedHistory(us, 'hist:values', values.length);
    expect(stored.map((m) => m.id)).toEqual(ids);
    expect(stored.map((m) => m.data)).toEqual(values);
    const viaSocket = await client.timeout(5_000).emitWithAck('history', { room: 'hist:values' });
    expect(viaSocket.ok && viaSocket.messages.map((m: Envelope) => m.data)).toEqual(values);
  });
});

describe('recovery on join { since }', () => {
  it('answers from the buffer, from Postgres when since is older, and for a since from another region', async () => {
    const room = 'hist:recover';
    const [a, b] = [await connectClient(us.url, token), await connectClient(eu.url, token)];
    const ids: EnvelopeId[] = [];
    for (let n = 0; n < RECENT_LENGTH + 6; n++) ids.push(await publish(a, room, n));
    const fromEu = await publish(b, room, 100);
    const later = [await publish(a, room, 101), await publish(a, room, 102)];
    await storedHistory(us, room, ids.length + 1 + later.length); // both regions' writers, one primary

    const join = async (since: EnvelopeId) => {
      const client = await connectClient(us.url, token);
      const res = await client.timeout(5_000).emitWithAck('join', { room, since });
      if (!res.ok) throw new Error(res.error.code);
      client.close();
      return res.missed.map((m: Envelope) => m.id);
    };
    const recoveries = (path: string) => metricValue(us.url, 'rt_history_recoveries_total', { path });

    const bufferBefore = await recoveries('buffer');
    // The global bus (when attached) also delivers fromEu here, in this region's order.
    // What was delivered shortly before since comes first (RECOVERY_REORDER_WINDOW_MS: a member on
    // another node may not have had it yet); the SDK drops the repeats by id.
    const withoutWindow = (answer: EnvelopeId[], since: number) => {
      const earlier = answer.filter((id) => ids.indexOf(id) !== -1 && ids.indexOf(id) < since);
      expect(answer.slice(0, earlier.length)).toEqual(earlier);
      return answer.slice(earlier.length);
    };
    const fromBuffer = withoutWindow(await join(ids[ids.length - 2]!), ids.length - 2);
    expect(fromBuffer.filter((id: string) => id !== fromEu)).toEqual([ids[ids.length - 1], ...later]);
    expect(await recoveries('buffer')).toBe(bufferBefore + 1);

    const postgresBefore = await recoveries('postgres');
    const missed = withoutWindow(await join(ids[1]!), 1);
    expect(missed.slice(0, ids.length - 2)).toEqual(ids.slice(2));
    expect(missed).toContain(fromEu); // stored by eu-west's writer, never delivered in us-east
    expect(missed.slice(-2)).toEqual(later);
    expect(await recoveries('postgres')).toBe(postgresBefore + 1);

    // A client that failed over from eu-west: its since may not have been delivered here.
    expect((await join(fromEu)).slice(-2)).toEqual(later);
  });
});

describe('retention (HISTORY_RETENTION_DAYS)', () => {
  it('never answers history past the horizon, and a join since then is not recovered', async () => {
    const [node] = (await stack.startRegion('ap-south', 1, { HISTORY_RETENTION_DAYS: '2' })) as [
      RegionProcess,
    ];
    const room = 'hist:retention';
    // An envelope a minute past the horizon: its day's partition is still there, its row too.
    const at = retentionHorizonMs(2) - 60_000;
    const expired = {
      id: uuidv7({ msecs: at }),
      room,
      data: { n: 'expired' },
      user: 'alice',
      origin: 'ap-south',
      ts: at,
    };
    const primary = postgres(stack.pg.primary.url, { max: 1, onnotice: () => undefined });
    try {
      await ensurePartitions(primary, utcDay(at), utcDay(at));
      await insertEnvelopes(primary, [JSON.stringify(expired)]);
    } finally {
      await primary.end();
    }
    const client = await connectClient(node.url, token);
    const kept = [await publish(client, room, 1), await publish(client, room, 2)];
    expect((await storedHistory(node, room, 2)).map((m) => m.id)).toEqual(kept);

    const join = async (since: string) => {
      const fresh = await connectClient(node.url, token);
      const res = await fresh.timeout(5_000).emitWithAck('join', { room, since: since as EnvelopeId });
      fresh.close();
      if (!res.ok) throw new Error(res.error.code);
      return { missed: res.missed.map((m: Envelope) => m.id), recovered: res.recovered };
    };
    expect(await join(expired.id)).toEqual({ missed: kept, recovered: false });
    expect(await join(kept[0]!)).toEqual({ missed: [kept[1]], recovered: true });
  });
});

describe('malformed queries', () => {
  it('answer invalid on the socket and over HTTP', async () => {
    const client = await connectClient(us.url, token);
    const ask = async (event: 'join' | 'history', payload: object) => {
      const res = await (client.timeout(5_000) as unknown as UntypedAsk).emitWithAck(event, payload);
      return res.ok ? 'ok' : res.error?.code;
    };
    const uuidV4 = '3b241101-e2bb-4255-8caf-4136c566a962';
    expect(await ask('join', { room: 'r', since: 'nope' })).toBe('invalid');
    expect(await ask('join', { room: 'r', since: uuidV4 })).toBe('invalid');
    expect(await ask('join', { room: 'r', since: 5 })).toBe('invalid');
    expect(await ask('history', { room: 'r', before: 'x' })).toBe('invalid');
    for (const limit of [0, 101, 1.5, '5', -1])
      expect(await ask('history', { room: 'r', limit })).toBe('invalid');
    expect(await ask('history', { room: 'r', limit: 100 })).toBe('ok');

    for (const query of [
      '?limit=abc',
      '?limit=0',
      '?limit=101',
      '?limit=2.5',
      '?limit=1e1',
      '?limit=0x10',
      '?limit=%205',
      '?before=nope',
      `?before=${uuidV4}`,
    ]) {
      const page = await httpPage(us, 'r', query);
      expect({ query, status: page.status, code: page.body.error?.code }).toEqual({
        query,
        status: 400,
        code: 'invalid',
      });
    }
  });
});

describe('a primary outage', () => {
  it('delays history without losing or repeating anything, and never stops live delivery', async () => {
    const room = 'hist:outage';
    const [listener, sender] = [await connectClient(us.url, token), await connectClient(us.url, token)];
    await listener.timeout(5_000).emitWithAck('join', { room });
    const ids: EnvelopeId[] = [];
    const burst = async (count: number) => {
      for (let i = 0; i < count; i++) ids.push(await publish(sender, room, ids.length));
    };
    const failuresBefore = await metricValue(us.url, 'rt_history_write_failures_total', {});

    await burst(15);
    await stack.pg.primary.stop();
    try {
      await burst(20);
      await eventually(() => listener.received.length === ids.length, 'live delivery during the outage');
      await eventually(
        async () => (await metricValue(us.url, 'rt_history_write_failures_total', {})) > failuresBefore,
        'the writer to notice the outage',
      );
      expect((await fetch(`${us.url}/readyz`)).status).toBe(200);
    } finally {
      await stack.pg.primary.start();
    }
    await burst(10);

    const stored = await storedHistory(us, room, ids.length);
    expect(stored.map((m) => m.id)).toEqual(ids);
    const primary = postgres(stack.pg.primary.url, { max: 1 });
    try {
      const [row] = await primary`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d
        FROM messages WHERE room = ${room}`;
      expect(row).toEqual({ n: ids.length, d: ids.length });
    } finally {
      await primary.end();
    }
    expect(listener.received.map((m) => m.id)).toEqual(ids);
  });
});
