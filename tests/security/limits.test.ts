import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope, EnvelopeId } from '../../shared';
import { closeAllClients, connectClient, eventually, sleep } from '../support/clients';
import { useTestRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';

const region = useTestRegion({
  region: 'eu-west',
  nodes: 1,
  env: {
    MAX_ROOMS_PER_CONNECTION: '5',
    REQUEST_RATE_PER_CONNECTION: '10',
    MAX_ANSWER_BYTES: '40000',
    // Slow on purpose: a connection that spent its burst (80 KB) stays out of answers for seconds.
    ANSWER_BYTES_PER_SECOND: '4000',
    MAX_READS_PER_CONNECTION: '1',
    PUBLISH_RATE_PER_CONNECTION: '100',
    PUBLISH_RATE_PER_USER: '200',
  },
});
let url: string;
beforeAll(() => void (url = region.nodes[0]!.url));
afterEach(() => closeAllClients());

/** Waits until a full burst of requests is available again (burst twice the 10/s rate). */
const refill = () => sleep(2_100);

describe('per-connection limits', () => {
  it('keeps one connection in at most MAX_ROOMS_PER_CONNECTION rooms (rate_limited), and a leave makes room', async () => {
    const c = await connectClient(url, await tokenFor('roomy'));
    for (let i = 0; i < 5; i++)
      expect(await c.emitWithAck('join', { room: `r${i}` })).toMatchObject({ ok: true });
    expect(await c.emitWithAck('join', { room: 'r5' })).toMatchObject({
      ok: false,
      error: { code: 'rate_limited' },
    });
    expect(await c.emitWithAck('leave', { room: 'r0' })).toEqual({ ok: true });
    expect(await c.emitWithAck('join', { room: 'r5' })).toMatchObject({ ok: true });
    expect(c.connected).toBe(true);
  });

  it('answers a rejoin ok without a second presence announcement', async () => {
    await refill();
    const watcher = await connectClient(url, await tokenFor('watcher'));
    await watcher.emitWithAck('join', { room: 'lobby' });
    const events: unknown[] = [];
    watcher.on('presence', (e) => events.push(e));
    const joiner = await connectClient(url, await tokenFor('joiner'));
    expect(await joiner.emitWithAck('join', { room: 'lobby' })).toMatchObject({ ok: true });
    await eventually(() => events.length === 1, 'the first presence join');
    for (let i = 0; i < 3; i++) {
      expect(await joiner.emitWithAck('join', { room: 'lobby' })).toMatchObject({
        ok: true,
        recovered: true,
      });
    }
    await sleep(300);
    expect(events).toHaveLength(1);
  });

  it('rate-limits join, leave, history and presence together on one connection, and others are unaffected', async () => {
    await refill();
    const hostile = await connectClient(url, await tokenFor('hammer'));
    const polite = await connectClient(url, await tokenFor('polite'));
    const sender = await connectClient(url, await tokenFor('sender'));
    expect(await polite.emitWithAck('join', { room: 'calm' })).toMatchObject({ ok: true });
    const acks = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const room = `h${i % 3}`;
        if (i % 4 === 0) return hostile.emitWithAck('join', { room });
        if (i % 4 === 1) return hostile.emitWithAck('leave', { room });
        if (i % 4 === 2) return hostile.emitWithAck('presence', { room });
        return hostile.emitWithAck('history', { room });
      }),
    );
    const limited = acks.filter((a) => !a.ok && a.error.code === 'rate_limited');
    expect(limited.length).toBeGreaterThanOrEqual(40 - 21);
    expect(hostile.connected).toBe(true);
    expect(await polite.emitWithAck('presence', { room: 'calm' })).toMatchObject({ ok: true });
    await sender.emitWithAck('publish', { room: 'calm', data: 'hello' });
    await eventually(() => polite.received.some((e) => e.data === 'hello'), 'the polite client’s message');
  });

  it('runs at most MAX_READS_PER_CONNECTION recovery reads at once on one connection', async () => {
    await refill();
    // Long-polling: one POST carries several packets, so they arrive together, deterministically.
    const base = `${url}/socket.io/?EIO=4&transport=polling`;
    const open = await (await fetch(base)).text();
    const { sid } = JSON.parse(open.slice(1)) as { sid: string };
    const session = `${base}&sid=${sid}`;
    const post = (body: string) => fetch(session, { method: 'POST', body }).then((r) => r.text());
    await post(`40${JSON.stringify({ token: await tokenFor('reader') })}`);
    expect(await (await fetch(session)).text()).toMatch(/^40/);
    const since = '01890000-0000-7000-8000-000000000000';
    await post(
      [1, 2, 3].map((n) => `42${n}["join",${JSON.stringify({ room: `read${n}`, since })}]`).join('\x1e'),
    );
    const acks: string[] = [];
    while (acks.length < 3) {
      const packets = (await (await fetch(session)).text()).split('\x1e');
      acks.push(...packets.filter((p) => p.startsWith('43')));
    }
    const answers = acks.map(
      (a) => JSON.parse(a.replace(/^43\d+/, ''))[0] as { ok: boolean; error?: { code: string } },
    );
    expect(answers.filter((a) => a.ok)).toHaveLength(1);
    expect(answers.filter((a) => !a.ok).map((a) => a.error?.code)).toEqual(['rate_limited', 'rate_limited']);
  });

  it('bounds the answer bytes one connection gets per second: over them, a join is answered without missed', async () => {
    await refill();
    const sender = await connectClient(url, await tokenFor('bytes-sender'));
    const first = await sender.emitWithAck('publish', { room: 'bytes', data: 'first' });
    if (!first.ok) throw new Error('first publish failed');
    for (let i = 0; i < 20; i++) {
      const ack = await sender.emitWithAck('publish', { room: 'bytes', data: `${i}:${'y'.repeat(4_000)}` });
      if (!ack.ok) throw new Error(`publish failed: ${ack.error.code}`);
    }
    const since = first.id as EnvelopeId;
    const reader = await connectClient(url, await tokenFor('bytes-reader'));
    const joins = [];
    for (let i = 0; i < 4; i++) joins.push(await reader.emitWithAck('join', { room: 'bytes', since }));
    // Each answer is cut to MAX_ANSWER_BYTES (40 KB); the burst is 80 KB, refilled at 4 KB/s. Once
    // it is spent, the join is still answered ok, without reading what was missed.
    expect(joins.every((j) => j.ok)).toBe(true);
    expect(joins[0]!.ok && joins[0]!.missed.length).toBeGreaterThan(5);
    expect(joins.at(-1)).toMatchObject({ ok: true, missed: [], recovered: false });
    // Another connection has answer bytes of its own.
    const other = await connectClient(url, await tokenFor('bytes-other'));
    const answer = await other.emitWithAck('join', { room: 'bytes', since });
    expect(answer.ok && answer.missed.length).toBeGreaterThan(5);
  });

  it('bounds a join answer by MAX_ANSWER_BYTES, keeping the newest, and says recovered: false', async () => {
    await refill();
    const sender = await connectClient(url, await tokenFor('sender'));
    const first = await sender.emitWithAck('publish', { room: 'big', data: 'first' });
    if (!first.ok) throw new Error('first publish failed');
    const published: string[] = [];
    for (let i = 0; i < 20; i++) {
      const ack = await sender.emitWithAck('publish', { room: 'big', data: `${i}:${'x'.repeat(4_000)}` });
      if (ack.ok) published.push(ack.id);
    }
    expect(published).toHaveLength(20);
    const late = await connectClient(url, await tokenFor('late'));
    const ack = await late.emitWithAck('join', { room: 'big', since: first.id as EnvelopeId });
    if (!ack.ok) throw new Error(`join failed: ${ack.error.code}`);
    const ids = ack.missed.map((e: Envelope) => e.id);
    expect(JSON.stringify(ack).length).toBeLessThanOrEqual(40_000);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThan(20);
    expect(ids).toEqual(published.slice(published.length - ids.length));
    expect(ack.recovered).toBe(false);

    const small = await late.emitWithAck('join', { room: 'big', since: published[17] as EnvelopeId });
    // Everything after since fits; what came shortly before it (the reorder window, which the
    // client has) fills the rest of the budget, oldest cut first, and the answer is still recovered.
    expect(small).toMatchObject({ ok: true, recovered: true });
    const smallIds = small.ok ? small.missed.map((e: Envelope) => e.id) : [];
    expect(smallIds.slice(-2)).toEqual(published.slice(18));
    const others = published.filter((id) => id !== published[17]);
    expect(smallIds).toEqual(others.slice(others.length - smallIds.length));
    expect(JSON.stringify(small).length).toBeLessThanOrEqual(40_000);
  });
});
