import { Redis } from 'ioredis';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import postgres from 'postgres';
import { Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresCluster, type LocalPostgresCluster } from '../../harness/processes/postgres';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { MIGRATIONS_DIR, migrate } from '../../infra/migrate';
import { HistoryMetrics, RedisRecentHistory } from '../../regions/history';
import { HistoryMaintenance } from '../../regions/history/maintenance';
import { ensurePartitions, idFloor, retentionHorizonMs, utcDay } from '../../regions/history/partitions';
import { PgClient } from '../../regions/history/pg-client';
import { ReadRouting } from '../../regions/history/read-routing';
import { HistoryRecovery } from '../../regions/history/recovery';
import { HistoryPages } from '../../regions/history/pages';
import { insertEnvelopes, pageBefore } from '../../regions/history/store';
import type { Envelope, EnvelopeId } from '../../shared';

const DAY_MS = 86_400_000;
const log = pino({ level: 'silent' });

let pg: LocalPostgresCluster;
let redisServer: LocalRedis;
let sql: postgres.Sql;

beforeAll(async () => {
  [pg, redisServer] = await Promise.all([startPostgresCluster(), startRedis()]);
  sql = postgres(pg.primary.url, { max: 2, onnotice: () => undefined });
});

afterAll(async () => {
  await sql?.end();
  await Promise.all([pg?.destroy(), redisServer?.stop()]);
});

/** An envelope accepted at `ms` (its UUIDv7 carries that time, as the node's ids do). */
function envelopeAt(room: string, ms: number, n: number): Envelope {
  const id = uuidv7({ msecs: ms }) as EnvelopeId;
  return { id, room, data: { n }, user: 'alice', origin: 'us-east', ts: ms };
}

async function partitions(): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'messages'::regclass ORDER BY 1`;
  return rows.map((row) => row.name);
}

const partitionOf = (ms: number) => `messages_p${utcDay(ms).replaceAll('-', '')}`;
const now = Date.now();
// Rows on five different days, two of them either side of last midnight.
const midnight = Math.floor(now / DAY_MS) * DAY_MS;
const old = [
  envelopeAt('p:room', now - 5 * DAY_MS, 0),
  envelopeAt('p:room', now - 3 * DAY_MS, 1),
  envelopeAt('p:room', midnight - 2, 2),
  envelopeAt('p:room', midnight - 1, 3),
  envelopeAt('p:room', midnight, 4),
  envelopeAt('p:room', midnight + 1, 5),
  envelopeAt('p:other', now - 3 * DAY_MS, 6),
];

/** Applies the migrations up to and including `last` (a file name), as a database built back then had. */
async function migrateUpTo(last: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'rt-migrations-'));
  try {
    const names = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql') && name <= last);
    for (const name of names) await copyFile(join(MIGRATIONS_DIR, name), join(dir, name));
    return (await migrate(pg.primary.url, { dir })).applied;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The type of `messages.data` in the parent table and in each partition. */
async function dataTypes(): Promise<string[]> {
  const rows = await sql<{ type: string }[]>`
    SELECT DISTINCT format_type(a.atttypid, a.atttypmod) AS type
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE a.attname = 'data' AND (c.relname = 'messages' OR c.relname ~ '^messages_p[0-9]{8}$')`;
  return rows.map((row) => row.type);
}

describe('partitioned history', () => {
  it('the migration from the single table keeps every row, each in its day', async () => {
    // The schema as it was: only 001 applied, rows written into the single table.
    expect(await migrateUpTo('001_messages.sql')).toEqual(['001_messages.sql']);
    await insertEnvelopes(
      sql,
      old.map((e) => JSON.stringify(e)),
    );
    const before = await sql`SELECT id, room, data, "user", origin, ts, stored_at FROM messages ORDER BY id`;

    expect(await migrateUpTo('002_partition_messages.sql')).toEqual(['002_partition_messages.sql']);
    const after = await sql`SELECT id, room, data, "user", origin, ts, stored_at FROM messages ORDER BY id`;
    expect(after).toEqual(before);
    const parts = await partitions();
    for (const envelope of old) expect(parts).toContain(partitionOf(envelope.ts));
    for (const offset of [-1, 0, 1, 2]) expect(parts).toContain(partitionOf(now + offset * DAY_MS));
    // Each row lives in the partition of its day.
    const placed = await sql<{ id: string; part: string }[]>`
      SELECT id::text, tableoid::regclass::text AS part FROM messages`;
    for (const { id, part } of placed) {
      expect(part).toBe(partitionOf(old.find((e) => e.id === id)!.ts));
    }
    // The writer's insert works on the partitioned table, and a repeat writes nothing twice.
    const fresh = envelopeAt('p:room', now, 7);
    expect(await insertEnvelopes(sql, [JSON.stringify(fresh)])).toBe(1);
    expect(await insertEnvelopes(sql, [JSON.stringify(fresh)])).toBe(0);
  });

  it('the migration of data to json keeps every row, as jsonb rendered it; new rows keep their text', async () => {
    // Rows written while data was jsonb: stored as jsonb's rendering of the published value.
    const published = '{"zebra":1,"apple":[1e21,0.1,"\\u00e9"],"__proto__":{"x":null}}';
    // Each a millisecond apart: ids made for the same millisecond are in no particular order.
    const written = envelopeAt('p:values', now - 2, 0);
    const envelopeText = (e: Envelope) =>
      JSON.stringify({ ...e, data: 0 }).replace('"data":0', `"data":${published}`);
    expect(await insertEnvelopes(sql, [envelopeText(written)])).toBe(1);
    expect(await dataTypes()).toEqual(['jsonb']);
    const select = () => sql`
      SELECT id, room, data, data::text AS text, "user", origin, ts, stored_at FROM messages ORDER BY id`;
    const before = await select();
    const rendered = before.find((row) => row.id === written.id)!.text as string;
    expect(rendered).toBe(
      '{"apple": [1000000000000000000000, 0.1, "é"], "zebra": 1, "__proto__": {"x": null}}',
    );

    expect((await migrate(pg.primary.url)).applied).toEqual(['003_messages_data_json.sql']);
    // Every row, its value and its text as they were; data is json in every partition.
    expect(await select()).toEqual(before);
    expect(await dataTypes()).toEqual(['json']);
    // A partition created after the migration has the parent's type.
    await ensurePartitions(sql, utcDay(now + 20 * DAY_MS), utcDay(now + 20 * DAY_MS));
    expect(await partitions()).toContain(partitionOf(now + 20 * DAY_MS));
    expect(await dataTypes()).toEqual(['json']);
    // A row written now keeps the published text, byte for byte, in an old and a new partition.
    const fresh = [envelopeAt('p:values', now - 1, 1), envelopeAt('p:values', now + 20 * DAY_MS, 2)];
    expect(await insertEnvelopes(sql, fresh.map(envelopeText))).toBe(2);
    const stored = await sql<{ text: string }[]>`
      SELECT data::text AS text FROM messages WHERE id IN ${sql(fresh.map((e) => e.id))}`;
    expect(stored.map((row) => row.text)).toEqual([published, published]);
    // A page reads each row's stored text: jsonb's rendering for the old row, the published one after.
    const page = await pageBefore(sql, 'p:values', undefined, 10);
    expect(page.envelopes.map((e) => e.json)).toEqual([
      envelopeText(written).replace(published, rendered),
      ...fresh.map(envelopeText),
    ]);
  });

  it('pages with keyset cursors across a partition boundary', async () => {
    const room = old.filter((e) => e.room === 'p:room');
    const ids = [...room.map((e) => e.id)];
    const newest = (await pageBefore(sql, 'p:room', undefined, 3)).envelopes;
    expect(newest.map((e) => e.id)).toEqual([ids[4], ids[5], expect.any(String)]);
    // From the first envelope after midnight back across the boundary, two pages.
    const lastNight = (await pageBefore(sql, 'p:room', ids[4], 2)).envelopes;
    expect(lastNight.map((e) => e.id)).toEqual([ids[2], ids[3]]);
    const older = (await pageBefore(sql, 'p:room', lastNight[0]!.id, 10)).envelopes;
    expect(older.map((e) => e.id)).toEqual([ids[0], ids[1]]);
    expect(older.map((e) => (JSON.parse(e.json) as Envelope).data)).toEqual([{ n: 0 }, { n: 1 }]);
  });

  it('retention drops whole partitions; history and missed never answer what it removed', async () => {
    // npm run migrate with HISTORY_RETENTION_DAYS: the partition 5 days back goes.
    const result = await migrate(pg.primary.url, { retentionDays: 4 });
    expect(result.partitionsDropped).toEqual([partitionOf(now - 5 * DAY_MS)]);
    expect(await partitions()).not.toContain(partitionOf(now - 5 * DAY_MS));
    const [gone] = await sql`SELECT count(*)::int AS n FROM messages WHERE id = ${old[0]!.id}::uuid`;
    expect(gone!.n).toBe(0);

    // A node with 2 days: its maintenance drops the partitions 3 days back.
    const metrics = new HistoryMetrics(new Registry(), async () => 0);
    const primary = new PgClient('primary', () => sql, 5_000, { metrics, log });
    const maintenance = new HistoryMaintenance(primary, 2, { metrics, log });
    expect((await maintenance.runOnce()).dropped).toEqual([partitionOf(now - 3 * DAY_MS)]);
    expect(await partitions()).not.toContain(partitionOf(now - 3 * DAY_MS));

    // Rows past the horizon whose partition is still there (same day) are not answered either.
    const horizon = retentionHorizonMs(2);
    const expiring = envelopeAt('p:edge', horizon - 60_000, 10);
    const kept = envelopeAt('p:edge', now - 1000, 11);
    const floor = () => idFloor(retentionHorizonMs(2));
    await ensurePartitions(sql, utcDay(expiring.ts), utcDay(expiring.ts));
    await insertEnvelopes(sql, [JSON.stringify(expiring), JSON.stringify(kept)]);
    const reads = new ReadRouting(primary, undefined, 1 << 20, { metrics, log });
    const pages = new HistoryPages(reads, floor);
    expect((await pages.page('p:edge', {}, 1 << 20)).map((e) => e.id)).toEqual([kept.id]);

    const redis = new Redis(redisServer.url);
    try {
      const recovery = new HistoryRecovery(
        new RedisRecentHistory(
          redis,
          { length: 10, roomMaxBytes: 1 << 20, totalMaxBytes: 1 << 24, maxRooms: 100, ttlMs: 60_000 },
          () => undefined,
        ),
        reads,
        100,
        {
          metrics,
          log,
        },
        floor,
      );
      const beyond = await recovery.missedSince('p:edge', expiring.id, 1 << 20);
      expect(beyond).toMatchObject({ missed: [expect.objectContaining({ id: kept.id })], complete: false });
      const within = await recovery.missedSince('p:room', old[3]!.id, 1 << 20);
      expect(within.complete).toBe(true);
      // old[2], accepted 1 ms before since, comes too (the reorder window; the SDK drops repeats).
      expect(within.missed.map((e) => e.id)).toEqual([
        old[2]!.id,
        old[4]!.id,
        old[5]!.id,
        expect.any(String),
      ]);
    } finally {
      redis.disconnect();
    }
  });
});
