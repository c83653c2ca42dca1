import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePartitions, utcDay } from '../../regions/history/partitions';
import { insertEnvelopes, pageBefore } from '../../regions/history/store';
import { newEnvelopeId, type Envelope, type EnvelopeId, type JsonValue } from '../../shared';
import { closeAllClients, connectClient, eventually, type TestClient } from '../support/clients';
import type { RegionProcess } from '../support/region-process';
import { tokenFor } from '../support/tokens';
import { startHistoryStack, type HistoryStack } from './support/stack';

/**
 * Join and history answers are made of stored envelopes as the JSON text they were stored as (the
 * recent buffer's and Postgres's `json` column's exact text), never decoded and encoded again by the
 * node: what a client gets must still be what was published, byte for byte.
 */

const MAX_ANSWER_BYTES = 8_192;

let stack: HistoryStack;
let node: RegionProcess;
let token: string;
let sql: postgres.Sql;

beforeAll(async () => {
  stack = await startHistoryStack({ replicas: 0 });
  [node] = (await stack.startRegion('us-east', 1, {
    MAX_ANSWER_BYTES: String(MAX_ANSWER_BYTES),
    ANSWER_BYTES_PER_SECOND: String(1 << 20),
  })) as [RegionProcess];
  token = await tokenFor('alice');
  sql = postgres(stack.pg.primary.url, { onnotice: () => undefined });
});

afterAll(async () => {
  closeAllClients();
  await sql?.end();
  await stack?.stop();
});

function nested(depth: number): JsonValue {
  let value: JsonValue = ['bottom', { depth }];
  for (let i = 0; i < depth; i++) value = i % 2 ? [value, i] : { level: i, inner: value };
  return value;
}

/** Valid values a store could easily change: text, deep nesting, extreme numbers, odd keys, key order. */
const UNUSUAL: JsonValue[] = [
  'héllo wörld ✓ 日本語 👩‍👩‍👧 \u2028\u2029 "quoted" \\ back\nslash\ttab \u0001',
  nested(30),
  [12345678901234567000, 2 ** 64, 1e21, 1.7976931348623157e308, 5e-324, -1.5e-7, 0.1, 2 ** 53 + 2],
  JSON.parse('{"__proto__":{"admin":true},"constructor":{"prototype":1},"":"empty key"}') as JsonValue,
  { zebra: 1, apple: { z: [], a: {} }, '10': 'ten', '9': 'nine' },
  null,
  '',
  false,
];

async function publishAll(client: TestClient, room: string, values: JsonValue[]): Promise<EnvelopeId[]> {
  const ids: EnvelopeId[] = [];
  for (const data of values) {
    const ack = await client.timeout(5_000).emitWithAck('publish', { room, data });
    if (!ack.ok) throw new Error(`publish refused: ${ack.error.code}`);
    ids.push(ack.id);
  }
  return ids;
}

async function httpPage(room: string, query: string): Promise<{ text: string; messages: Envelope[] }> {
  const res = await fetch(`${node.url}/v1/rooms/${room}/messages${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`history ${res.status}: ${text}`);
  return { text, messages: (JSON.parse(text) as { messages: Envelope[] }).messages };
}

async function storedCount(room: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM messages WHERE room = ${room}`;
  return row!.n;
}

describe('answers made of stored envelopes', () => {
  it('give back unusual but valid data as published, byte for byte, from the buffer and from Postgres', async () => {
    const room = 'answers:unusual';
    const before = newEnvelopeId();
    const publisher = await connectClient(node.url, token);
    const member = await connectClient(node.url, token);
    expect(await member.emitWithAck('join', { room })).toMatchObject({ ok: true });
    const ids = await publishAll(publisher, room, UNUSUAL);
    await eventually(() => member.received.length === UNUSUAL.length, 'every value delivered live');
    const live = member.received;
    expect(live.map((e) => e.data)).toEqual(UNUSUAL);
    // What members got live, as text: key order and number spelling are the publisher's.
    const liveText = live.map((e) => JSON.stringify(e));

    // From the recent buffer: the envelopes exactly as members got them live, key order included.
    const late = await connectClient(node.url, token);
    const fromBuffer = await late.emitWithAck('join', { room, since: ids[0]! });
    if (!fromBuffer.ok) throw new Error(`join refused: ${fromBuffer.error.code}`);
    expect(fromBuffer.recovered).toBe(true);
    expect(fromBuffer.missed.map((e) => JSON.stringify(e))).toEqual(liveText.slice(1));

    await eventually(async () => (await storedCount(room)) === UNUSUAL.length, 'every value stored', 20_000);
    // Postgres holds each data as the text it was published as.
    const rows = await sql<{ data: string }[]>`
      SELECT data::text AS data FROM messages WHERE room = ${room} ORDER BY ts, id`;
    expect(rows.map((row) => row.data)).toEqual(UNUSUAL.map((value) => JSON.stringify(value)));

    // From Postgres (since is in no buffer): the same envelopes, key order included.
    const other = await connectClient(node.url, token);
    const fromPostgres = await other.emitWithAck('join', { room, since: before });
    if (!fromPostgres.ok) throw new Error(`join refused: ${fromPostgres.error.code}`);
    expect(fromPostgres.recovered).toBe(true);
    expect(fromPostgres.missed.map((e) => JSON.stringify(e))).toEqual(liveText);
    const history = await other.emitWithAck('history', { room });
    if (!history.ok) throw new Error(`history refused: ${history.error.code}`);
    expect(history.messages.map((e) => JSON.stringify(e))).toEqual(liveText);
    const proto = history.messages[3]!.data as Record<string, unknown>;
    expect(Object.keys(proto)).toEqual(['__proto__', 'constructor', '']);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);

    // Over HTTP, where the bytes are visible: the body carries every envelope's text as published.
    const page = await httpPage(room, '');
    expect(page.text).toBe(`{"messages":[${liveText.join(',')}]}`);
  });

  it('bound a history page by MAX_ANSWER_BYTES on a socket and over HTTP, keeping the newest', async () => {
    const room = 'answers:bounded';
    const publisher = await connectClient(node.url, token);
    const values = Array.from({ length: 12 }, (_, i) => `${i}:${'x'.repeat(1_500)}`);
    const ids = await publishAll(publisher, room, values);
    await eventually(async () => (await storedCount(room)) === values.length, 'every value stored', 20_000);

    const page = await httpPage(room, '?limit=100');
    expect(Buffer.byteLength(page.text)).toBeLessThanOrEqual(MAX_ANSWER_BYTES);
    const kept = page.messages.map((e) => e.id);
    expect(kept.length).toBeGreaterThan(1);
    expect(kept.length).toBeLessThan(values.length);
    expect(kept).toEqual(ids.slice(ids.length - kept.length));
    // The client pages on from the oldest it got.
    const older = await httpPage(room, `?limit=100&before=${kept[0]}`);
    expect(older.messages.map((e) => e.id)).toEqual(
      ids.slice(ids.length - kept.length - older.messages.length, ids.length - kept.length),
    );

    const reader = await connectClient(node.url, token);
    const answer = await reader.emitWithAck('history', { room, limit: 100 });
    if (!answer.ok) throw new Error(`history refused: ${answer.error.code}`);
    expect(Buffer.byteLength(JSON.stringify(answer))).toBeLessThanOrEqual(MAX_ANSWER_BYTES);
    expect(answer.messages.map((e) => e.id)).toEqual(kept);
  });
});

describe('pageBefore', () => {
  const room = 'answers:store';
  const now = Date.now();
  const envelopes: Envelope[] = Array.from({ length: 60 }, (_, i) => ({
    id: newEnvelopeId(),
    room,
    data: { i, pad: 'p'.repeat(100) },
    user: 'u',
    origin: 'us-east',
    ts: now + i,
  }));

  beforeAll(async () => {
    await ensurePartitions(sql, utcDay(now), utcDay(now + 60));
    await insertEnvelopes(
      sql,
      envelopes.map((e) => JSON.stringify(e)),
    );
  });

  it('reads every row of a page once, over several batches', async () => {
    const read = await pageBefore(sql, room, undefined, 100);
    expect(read.cut).toBe(false);
    expect(read.envelopes.map((e) => e.id)).toEqual(envelopes.map((e) => e.id));
    expect(read.envelopes.map((e) => JSON.parse(e.json) as Envelope)).toEqual(envelopes);
    expect(read.envelopes.every((e) => e.bytes === Buffer.byteLength(e.json))).toBe(true);
  });

  it('stops at the first envelope that does not fit in the answer, and says it cut', async () => {
    const one = (await pageBefore(sql, room, undefined, 1)).envelopes[0]!.bytes + 1;
    // Room for the answer's framing (512 bytes) and exactly 37 envelopes: a cut in the second batch.
    const read = await pageBefore(sql, room, undefined, 100, undefined, 512 + 37 * one);
    expect(read.cut).toBe(true);
    expect(read.envelopes.map((e) => e.id)).toEqual(envelopes.slice(-37).map((e) => e.id));
    const exact = await pageBefore(sql, room, undefined, 37, undefined, 512 + 37 * one);
    expect(exact.cut).toBe(false);
    expect(exact.envelopes).toHaveLength(37);
  });
});
