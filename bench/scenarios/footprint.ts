import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import type { LocalRedis } from '../../harness/processes/redis';
import { FOOTPRINT_WINDOW_S } from '../platforms';
import type { ScenarioContext } from './context';
import { heapAfterGc } from './memory';
import { keys as keyspace } from '../../regions/keyspace';

/** One family of keys (same prefix) in one Redis after the run. */
export interface KeyFamily {
  family: string;
  keys: number;
  /** `MEMORY USAGE` over the keys (sampled and scaled above 2,000 keys), in bytes. */
  bytes: number;
  /** For streams: total and largest length. */
  streamEntries?: number;
  longestStream?: number;
}

/** What one Redis of ours holds after the footprint run. */
export interface RedisFootprint {
  redis: string;
  usedMemoryBefore: number;
  usedMemoryAfter: number;
  /** `used_memory` growth per 1,000 envelopes accepted platform-wide, in bytes. */
  growthPer1000: number;
  /** The same, less what the per-room recent buffers hold (bounded by RECENT_HISTORY_LENGTH per room). */
  growthBeyondRecentPer1000: number;
  families: KeyFamily[];
}

/** Scenario: the steady-state footprint of a long stream of publishes, ours only. */
export interface FootprintReport {
  envelopes: number;
  accepted: Record<string, number>;
  refused: number;
  publishSeconds: number;
  /** Whether the idempotency and dedup windows had passed when the memory was read. */
  windowsPassed: boolean;
  windowS: number;
  redis: RedisFootprint[];
  /** Heap growth of each region's nodes (sum), in MiB, both read after a full GC. */
  heapGrowthMiB: Record<string, number>;
  /** Rows in Postgres for the run's rooms, by origin region, and whether they equal the accepted. */
  postgresRows: Record<string, number>;
  rowsMatchAccepted: boolean;
}

/**
 * A steady stream of publishes from one publisher on the first node of every region (closed loop),
 * over a few rooms per region; then, after the idempotency and dedup windows have passed (full run
 * only) and the history writer has caught up, reads each of our Redis servers (`used_memory`, key
 * families by prefix with `MEMORY USAGE`, stream lengths), each node's heap after a full GC, and the
 * rows in Postgres.
 */
export async function measureFootprint(ctx: ScenarioContext): Promise<FootprintReport[]> {
  const { footprint } = ctx.options;
  const ours = ctx.world.ours;
  const servers = Object.entries(ours.redis);
  const clients = servers.map(([name, r]) => ({ name, client: connect(r) }));
  const sql = postgres(ctx.world.databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    const nodes = ours.regions.flatMap((r) => r.nodes);
    const heapBefore = await Promise.all(nodes.map((n) => heapAfterGc(n, 300)));
    const before = await Promise.all(clients.map((c) => usedMemory(c.client)));
    const roomPrefix = `bench.fp.${Date.now().toString(36)}.`;
    ctx.say(`footprint: ${footprint.perRegion} publishes from each of ${ours.regions.length} regions`);
    const run = await ctx.load.run({
      kind: 'footprint',
      publishers: ours.regions.map((r) => ({ region: r.id, url: r.nodes[0]!.url })),
      roomPrefix,
      perRegion: footprint.perRegion,
      rooms: footprint.rooms,
      window: footprint.window,
      dataBytes: footprint.dataBytes,
    });
    const envelopes = Object.values(run.accepted).reduce((a, b) => a + b, 0);
    const publishedAt = Date.now();
    ctx.say(`footprint: ${envelopes} accepted in ${run.seconds.toFixed(0)} s`);

    // History catches up first (it reads the outbox), then the windows pass.
    const rowsByOrigin = async () => {
      const rows = await sql<{ origin: string; n: string }[]>`
        SELECT origin, count(*) AS n FROM messages WHERE room LIKE ${`${roomPrefix}%`} GROUP BY origin`;
      return Object.fromEntries(rows.map((r) => [r.origin, Number(r.n)]));
    };
    let postgresRows: Record<string, number> = {};
    const rowsDeadline = Date.now() + footprint.historyDeadlineMs;
    do {
      postgresRows = await rowsByOrigin();
      if (Object.values(postgresRows).reduce((a, b) => a + b, 0) >= envelopes) break;
      await sleep(1_000);
    } while (Date.now() < rowsDeadline);
    const windowsPassed = footprint.waitForWindows;
    if (windowsPassed) {
      const until = publishedAt + (FOOTPRINT_WINDOW_S + 15) * 1000;
      ctx.say(`footprint: waiting ${Math.ceil((until - Date.now()) / 1000)} s for the windows to pass`);
      await sleep(Math.max(0, until - Date.now()));
    }
    const after = await Promise.all(clients.map((c) => usedMemory(c.client)));
    const heapAfter = await Promise.all(nodes.map((n) => heapAfterGc(n, 300)));
    const redis: RedisFootprint[] = [];
    for (const [i, { name, client }] of clients.entries()) {
      const families = await keyFamilies(client);
      const recent =
        families.find((f) => f.family.startsWith(`${familyOf(keyspace.recent('room'))} `))?.bytes ?? 0;
      const growth = after[i]! - before[i]!;
      redis.push({
        redis: name,
        usedMemoryBefore: before[i]!,
        usedMemoryAfter: after[i]!,
        growthPer1000: envelopes ? (growth / envelopes) * 1000 : Number.NaN,
        growthBeyondRecentPer1000: envelopes ? ((growth - recent) / envelopes) * 1000 : Number.NaN,
        families,
      });
    }
    const heapGrowthMiB: Record<string, number> = {};
    nodes.forEach((n, i) => {
      heapGrowthMiB[n.region] = (heapGrowthMiB[n.region] ?? 0) + (heapAfter[i]! - heapBefore[i]!) / 1024 ** 2;
    });
    const rowsTotal = Object.values(postgresRows).reduce((a, b) => a + b, 0);
    return [
      {
        envelopes,
        accepted: run.accepted,
        refused: Object.values(run.refused).reduce((a, b) => a + b, 0),
        publishSeconds: run.seconds,
        windowsPassed,
        windowS: FOOTPRINT_WINDOW_S,
        redis,
        heapGrowthMiB,
        postgresRows,
        rowsMatchAccepted: rowsTotal === envelopes,
      },
    ];
  } finally {
    await sql.end({ timeout: 5 });
    for (const c of clients) c.client.disconnect();
  }
}

function connect(r: LocalRedis): Redis {
  return new Redis(r.port, '127.0.0.1', {
    lazyConnect: false,
    maxRetriesPerRequest: 2,
    commandTimeout: 10_000,
  });
}

async function usedMemory(client: Redis): Promise<number> {
  const info = await client.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
}

/**
 * `rt:ack:0193...` -> `rt:ack:*`, `rt:bus:lease:3` -> `rt:bus:lease:*`: the first two segments, a
 * third when it is a plain word followed by more, and `*` for the rest. Hash-tag braces are ignored.
 */
export function familyOf(key: string): string {
  const parts = key.replace(/[{}]/g, '').split(':');
  const keep = parts.length > 3 && /^[a-z]{1,12}$/.test(parts[2]!) ? 3 : 2;
  if (parts.length <= keep) return parts.join(':');
  return `${parts.slice(0, keep).join(':')}:*`;
}

const SAMPLE_PER_FAMILY = 2_000;

async function keyFamilies(client: Redis): Promise<KeyFamily[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const byFamily = new Map<string, { type: string; keys: string[] }>();
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000);
    const pipeline = client.pipeline();
    for (const key of chunk) pipeline.type(key);
    const types = ((await pipeline.exec()) ?? []).map(([, v]) => String(v));
    chunk.forEach((key, j) => {
      const family = `${familyOf(key)} (${types[j]})`;
      const entry = byFamily.get(family) ?? { type: types[j]!, keys: [] };
      entry.keys.push(key);
      byFamily.set(family, entry);
    });
  }
  const families: KeyFamily[] = [];
  for (const [family, { type, keys: members }] of byFamily) {
    const sample = members.slice(0, SAMPLE_PER_FAMILY);
    const pipeline = client.pipeline();
    for (const key of sample) pipeline.memory('USAGE', key);
    if (type === 'stream') for (const key of sample) pipeline.xlen(key);
    const answers = ((await pipeline.exec()) ?? []).map(([, v]) => Number(v ?? 0));
    const usage = answers.slice(0, sample.length).reduce((a, b) => a + b, 0);
    const entry: KeyFamily = {
      family,
      keys: members.length,
      bytes: (usage / sample.length) * members.length,
    };
    if (type === 'stream') {
      const lengths = answers.slice(sample.length);
      entry.streamEntries = lengths.reduce((a, b) => a + b, 0);
      entry.longestStream = Math.max(...lengths);
    }
    families.push(entry);
  }
  return families.sort((a, b) => b.bytes - a.bytes);
}
