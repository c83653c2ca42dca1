import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEnvelopeId, type Envelope, type EnvelopeId } from '../../shared';
import { connectClient, eventually, sleep, type TestClient } from '../support/clients';
import type { RegionProcess } from '../support/region-process';
import { tokenFor } from '../support/tokens';
import { freezePostgres } from './support/freeze';
import { metricValue, startHistoryStack, type HistoryStack } from './support/stack';

/** The nodes' Postgres deadline in this test. */
const DEADLINE_MS = 1_000;
/** A client's wait for any answer: a read may cost one deadline, then the other server answers. */
const ANSWER_WITHIN_MS = 4 * DEADLINE_MS;

let stack: HistoryStack;
let node: RegionProcess;
let token: string;

beforeAll(async () => {
  stack = await startHistoryStack({ replicas: 1 });
  [node] = (await stack.startRegion('us-east', 1, { POSTGRES_DEADLINE_MS: String(DEADLINE_MS) })) as [
    RegionProcess,
  ];
  token = await tokenFor('alice');
});

afterAll(async () => {
  await stack?.stop();
});

interface Traffic {
  published: EnvelopeId[];
  reads: { ok: boolean; code?: string; messages: Envelope[] }[];
}

/**
 * For `durationMs`, one client publishes every 50 ms and another reads `history` every 150 ms; every
 * publish and every read must be answered within ANSWER_WITHIN_MS (the ack timeout throws otherwise).
 */
async function traffic(room: string, durationMs: number): Promise<Traffic> {
  const publisher: TestClient = await connectClient(node.url, token);
  const reader: TestClient = await connectClient(node.url, token);
  const result: Traffic = { published: [], reads: [] };
  const until = Date.now() + durationMs;
  const publishing = (async () => {
    while (Date.now() < until) {
      const id = newEnvelopeId();
      const ack = await publisher
        .timeout(ANSWER_WITHIN_MS)
        .emitWithAck('publish', { room, data: { id }, id });
      expect(ack.ok).toBe(true);
      result.published.push(id);
      await sleep(50);
    }
  })();
  const reading = (async () => {
    while (Date.now() < until) {
      const res = await reader.timeout(ANSWER_WITHIN_MS).emitWithAck('history', { room, limit: 100 });
      result.reads.push(
        res.ok ? { ok: true, messages: res.messages } : { ok: false, code: res.error.code, messages: [] },
      );
      await sleep(150); // within the per-connection request rate
    }
  })();
  await Promise.all([publishing, reading]);
  publisher.close();
  reader.close();
  return result;
}

async function readyz(): Promise<{ status: number; checks: Record<string, string> }> {
  const res = await fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
}

/** Every id stored exactly once on the primary, in publish order. */
async function expectStored(room: string, ids: EnvelopeId[]): Promise<void> {
  const sql = postgres(stack.pg.primary.url, { max: 1, onnotice: () => undefined });
  try {
    let rows: { id: string }[] = [];
    await eventually(
      async () => {
        rows = await sql`SELECT id FROM messages WHERE room = ${room} ORDER BY ts, id`;
        return rows.length >= ids.length;
      },
      `${ids.length} stored in ${room}`,
      20_000,
    );
    expect(rows.map((row) => row.id)).toEqual(ids);
  } finally {
    await sql.end();
  }
}

describe('a frozen Postgres server (SIGSTOP on the postmaster and every backend)', () => {
  it('replica: every read is answered within the deadline by the primary; readiness says it hangs', async () => {
    const room = 'freeze:replica';
    const primaryReads = await metricValue(node.url, 'rt_history_reads_total', { source: 'primary' });
    const thaw = freezePostgres(stack.pg.replicas[0]!);
    let during: Traffic;
    try {
      during = await traffic(room, 4_000);
      expect(during.reads.length).toBeGreaterThan(2);
      expect(during.reads.filter((read) => !read.ok)).toEqual([]);
      expect(await metricValue(node.url, 'rt_history_reads_total', { source: 'primary' })).toBeGreaterThan(
        primaryReads,
      );
      await eventually(async () => (await readyz()).checks['postgres-replica'] === 'hung', 'replica: hung');
      const ready = await readyz();
      expect(ready.status).toBe(200); // reported, not critical
      expect(ready.checks.postgres).toBe('up');
      expect(await metricValue(node.url, 'rt_history_postgres_hung', { server: 'replica' })).toBe(1);
    } finally {
      thaw();
    }
    await expectStored(room, during.published);
    await eventually(
      async () => (await readyz()).checks['postgres-replica'] === 'up',
      'replica back',
      10_000,
    );
  });

  it('primary: publishes acked, reads answered by the replica (flagged unverified), history complete after', async () => {
    const room = 'freeze:primary';
    const before = await traffic(room, 500);
    await expectStored(room, before.published);
    await eventually(async () => (await readyz()).checks['postgres-replica'] === 'up', 'replica fresh');
    const unverified = await metricValue(node.url, 'rt_history_unverified_reads_total', {});
    const thaw = freezePostgres(stack.pg.primary);
    let during: Traffic;
    try {
      during = await traffic(room, 4_000);
      expect(during.reads.filter((read) => !read.ok)).toEqual([]);
      // The replica had everything written before the freeze.
      const seen = new Set(during.reads.at(-1)!.messages.map((m) => m.id));
      expect(before.published.every((id) => seen.has(id))).toBe(true);
      expect(await metricValue(node.url, 'rt_history_unverified_reads_total', {})).toBeGreaterThan(
        unverified,
      );
      await eventually(async () => (await readyz()).checks.postgres === 'hung', 'primary: hung');
      expect((await readyz()).status).toBe(200);
      expect(await metricValue(node.url, 'rt_history_postgres_hung', { server: 'primary' })).toBe(1);
    } finally {
      thaw();
    }
    await expectStored(room, [...before.published, ...during.published]);
    await eventually(async () => (await readyz()).checks.postgres === 'up', 'primary back', 10_000);
  });
});
