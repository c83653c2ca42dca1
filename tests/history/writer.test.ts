import { Redis } from 'ioredis';
import pino from 'pino';
import postgres from 'postgres';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresCluster, type LocalPostgresCluster } from '../../harness/processes/postgres';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { migrate } from '../../infra/migrate';
import { HISTORY_GROUP, HistoryMetrics, HistoryWriter } from '../../regions/history';
import { main as historyCli } from '../../regions/history/cli';
import { DEAD_LETTER_STREAM, listDeadLetters } from '../../regions/history/dead-letters';
import { PgClient } from '../../regions/history/pg-client';
import { pageBefore } from '../../regions/history/store';
import { OUTBOX_STREAM, RegionalOutbox } from '../../regions/outbox';
import { newEnvelopeId, type Envelope } from '../../shared';
import { v7 as uuidv7 } from 'uuid';
import { eventually } from '../support/clients';

let pg: LocalPostgresCluster;
let redisServer: LocalRedis;
let redis: Redis;
let sql: postgres.Sql;
let writer: HistoryWriter;
let writerRedis: Redis;
let metrics: HistoryMetrics;

beforeAll(async () => {
  [pg, redisServer] = await Promise.all([startPostgresCluster(), startRedis()]);
  await migrate(pg.primary.url);
  redis = new Redis(redisServer.url);
  await new RegionalOutbox(redis).ensureGroups();
  sql = postgres(pg.primary.url, { max: 2, onnotice: () => undefined });
  metrics = new HistoryMetrics(new Registry(), async () => 0);
  const log = pino({ level: 'silent' });
  writer = new HistoryWriter({
    redis: (writerRedis = new Redis(redisServer.url)),
    primary: new PgClient('primary', () => sql, 5_000, { metrics, log }),
    consumer: 'writer-test',
    batchSize: 50,
    deadLetterMaxLen: 100,
    retentionDays: undefined,
    claimIdleMs: 60_000,
    metrics,
    log,
  });
  writer.start();
});

afterAll(async () => {
  await writer?.stop();
  writerRedis?.disconnect();
  await sql?.end();
  redis?.disconnect();
  await Promise.all([pg?.destroy(), redisServer?.stop()]);
});

/** An envelope's outbox text with `dataJson` spliced in as written (so `__proto__` stays a key). */
function envelopeJson(
  room: string,
  dataJson: string,
  user = 'alice',
  at?: number,
): { id: string; json: string } {
  const id = at === undefined ? newEnvelopeId() : uuidv7({ msecs: at });
  const head = JSON.stringify({ id, room, user, origin: 'us-east', ts: at ?? Date.now() });
  return { id, json: `${head.slice(0, -1)},"data":${dataJson}}` };
}

/** Appends entries in one MULTI so that the writer reads them as one batch. */
async function appendBatch(jsons: string[]): Promise<void> {
  const multi = redis.multi();
  for (const json of jsons) multi.xadd(OUTBOX_STREAM, '*', 'e', json);
  await multi.exec();
}

async function stored(room: string, count: number): Promise<unknown[]> {
  let rows: { json: string }[] = [];
  await eventually(
    async () => (rows = (await pageBefore(sql, room, undefined, 100)).envelopes).length >= count,
    `${count} rows in ${room}`,
    15_000,
  );
  return rows.map((row) => (JSON.parse(row.json) as Envelope).data);
}

async function pendingToHistory(): Promise<number> {
  const [count] = (await redis.xpending(OUTBOX_STREAM, HISTORY_GROUP)) as [number];
  return count;
}

describe('every value the contract accepts is stored exactly', () => {
  it('round-trips null, nested values, __proto__ keys, big numbers and unicode', async () => {
    const values = [
      'null',
      'true',
      '0',
      '""',
      '[]',
      '{}',
      '[null,[null],{"a":null}]',
      '{"__proto__":{"polluted":true},"constructor":{"prototype":1},"a":{"__proto__":[1]}}',
      '12345678901234567000',
      '1e+21',
      '-0.000001',
      '5e-324',
      '1.7976931348623157e+308',
      '9007199254740993',
      JSON.stringify('héllo wörld ✓ 🎉 עברית \u2028 \ud83d\ude00 "quoted" \\ back'),
      JSON.stringify({ deep: Array.from({ length: 30 }).reduce<unknown>((inner) => [inner], 'bottom') }),
    ];
    const room = 'values';
    await appendBatch(values.map((value) => envelopeJson(room, value).json));
    const data = await stored(room, values.length);
    // Byte for byte: each `data` is stored as the text it was published as.
    const rows = await sql<{ data: string }[]>`
      SELECT data::text AS data FROM messages WHERE room = ${room} ORDER BY ts, id`;
    expect(rows.map((row) => row.data)).toEqual(values);
    // And read back as the same values, own `__proto__` keys included, in their order.
    expect(data).toEqual(values.map((value) => JSON.parse(value) as unknown));
    const proto = data[7] as Record<string, unknown>;
    expect(Object.keys(proto)).toEqual(['__proto__', 'constructor', 'a']);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(await pendingToHistory()).toBe(0);
  });
});

describe('a row Postgres refuses', () => {
  it('is set aside with its error, counted, and the rest of its batch and later batches are written', async () => {
    // Rules of the operator's schema that two rows break; one of them is lifted later.
    await sql`ALTER TABLE messages ADD CONSTRAINT no_closed_rooms CHECK (room <> 'closed')`;
    await sql`ALTER TABLE messages ADD CONSTRAINT no_banned_users CHECK ("user" <> 'banned')`;
    const deadBefore = await redis.xlen(DEAD_LETTER_STREAM);
    const countedBefore = (await metrics.deadLetters.get()).values[0]?.value ?? 0;
    const good = (n: number) => envelopeJson('open', `{"n":${n}}`);
    const banned = envelopeJson('open', '{"n":"banned"}', 'banned');
    const closed = envelopeJson('closed', '{"n":"closed"}');
    const batch = [good(1), banned, good(2), closed, good(3)];
    await appendBatch(batch.map((e) => e.json));
    await appendBatch([good(4).json]);

    expect(await stored('open', 4)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    await eventually(async () => (await pendingToHistory()) === 0, 'the batches acknowledged');
    const letters = (await listDeadLetters(redis, 100)).slice(deadBefore);
    expect(letters.map((l) => l.envelope)).toEqual([banned.json, closed.json]);
    expect(letters.map((l) => l.code)).toEqual(['23514', '23514']);
    expect(letters[1]!.error).toMatch(/no_closed_rooms/);
    expect((await metrics.deadLetters.get()).values[0]?.value).toBe(countedBefore + 2);

    // The operator lists them, fixes the cause of one, and replays: that one is written once.
    const lines: string[] = [];
    const out = { line: (t: string) => lines.push(t), error: (t: string) => lines.push(t) };
    const env = { REDIS_URL: redisServer.url, DATABASE_URL: pg.primary.url };
    expect(await historyCli(['dead-letters'], env, out)).toBe(0);
    expect(lines.join('\n')).toContain(`id=${closed.id} room=closed  [23514]`);
    expect(lines.join('\n')).toMatch(/2 dead letter\(s\)/);

    await sql`ALTER TABLE messages DROP CONSTRAINT no_closed_rooms`;
    lines.length = 0;
    expect(await historyCli(['dead-letters', '--replay'], env, out)).toBe(1); // the banned user's stays refused
    expect(lines.join('\n')).toMatch(/done: 1 replayed, 1 still refused/);
    expect(await stored('closed', 1)).toEqual([{ n: 'closed' }]);
    expect((await listDeadLetters(redis, 100)).map((l) => l.envelope)).toEqual([banned.json]);
    expect(await historyCli(['dead-letters', '--replay'], env, out)).toBe(1);
    const [row] = await sql`SELECT count(*)::int AS n FROM messages WHERE id = ${closed.id}::uuid`;
    expect(row!.n).toBe(1);

    expect(await historyCli(['--help'], env, out)).toBe(0);
    expect(await historyCli(['dead-letters'], {}, out)).toBe(2);
  });
});

describe('a row of a day without a partition', () => {
  it('gets its partition created on demand within the last week; a far older one is set aside', async () => {
    const dayMs = 86_400_000;
    const recent = envelopeJson('days', '{"n":"five days ago"}', 'alice', Date.now() - 5 * dayMs);
    const ancient = envelopeJson('days', '{"n":"a year ago"}', 'alice', Date.now() - 365 * dayMs);
    const today = envelopeJson('days', '{"n":"today"}');
    await appendBatch([recent.json, ancient.json, today.json]);
    expect(await stored('days', 2)).toEqual([{ n: 'five days ago' }, { n: 'today' }]);
    await eventually(async () => (await pendingToHistory()) === 0, 'the batch acknowledged');
    const letter = (await listDeadLetters(redis, 100)).find((l) => l.envelope === ancient.json);
    expect(letter?.error).toMatch(/no partition/);
  });
});
