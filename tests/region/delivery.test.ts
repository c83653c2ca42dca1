import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newEnvelopeId } from '../../shared';
import { closeAllClients, connectClient, eventually, handshakeError, sleep } from '../support/clients';
import { startTestRegion, type TestRegion } from '../support/region-cluster';
import { expectPresenceAcrossNodes } from '../support/region-presence';
import { TEST_JWT_SECRET, tokenFor } from '../support/tokens';
import { metricValue } from '../history/support/stack';

let region: TestRegion;
let nodeA: string;
let nodeB: string;

beforeAll(async () => {
  region = await startTestRegion({ region: 'eu-west', nodes: 2 });
  [nodeA, nodeB] = region.nodes.map((n) => n.url) as [string, string];
});
afterAll(() => region?.stop());
afterEach(() => closeAllClients());

async function post(url: string, room: string, body: unknown, token?: string) {
  const res = await fetch(`${url}/v1/rooms/${room}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('a region of two node processes on one regional Redis', () => {
  it('delivers across nodes once, and not back to the sender', async () => {
    const alice = await connectClient(nodeA, await tokenFor('alice', ['chat:*']));
    const bob = await connectClient(nodeB, await tokenFor('bob', ['chat:*']));
    const carol = await connectClient(nodeA, await tokenFor('carol', ['chat:*']));
    for (const c of [alice, bob, carol])
      expect((await c.emitWithAck('join', { room: 'chat:x' })).ok).toBe(true);
    const ack = await alice.emitWithAck('publish', { room: 'chat:x', data: { text: 'hello' } });
    expect(ack).toMatchObject({ ok: true });
    if (!ack.ok) throw new Error('publish failed');
    await eventually(
      () => bob.received.length === 1 && carol.received.length === 1,
      'delivery to bob and carol',
    );
    expect(bob.received[0]).toEqual({
      id: ack.id,
      room: 'chat:x',
      data: { text: 'hello' },
      user: 'alice',
      origin: 'eu-west',
      ts: ack.ts,
    });
    await sleep(200);
    expect(alice.received).toEqual([]);
    expect(bob.received).toHaveLength(1);
  });

  it('emits session { region, node } right after connecting', async () => {
    const client = await connectClient(nodeB, await tokenFor('erin'));
    await eventually(() => client.session !== undefined, 'the session event');
    expect(client.session).toEqual({ region: 'eu-west', node: 'eu-west-2' });
  });

  it('acks a retried publish id with the first ack and delivers it once, on either node and over HTTP', async () => {
    const token = await tokenFor('alice', ['chat:*']);
    const alice = await connectClient(nodeA, token);
    const aliceOnB = await connectClient(nodeB, token);
    const bob = await connectClient(nodeB, await tokenFor('bob', ['chat:*']));
    await bob.emitWithAck('join', { room: 'chat:retry' });
    const id = newEnvelopeId();
    const first = await alice.emitWithAck('publish', { room: 'chat:retry', data: 1, id });
    const again = await alice.emitWithAck('publish', { room: 'chat:retry', data: 1, id });
    const elsewhere = await aliceOnB.emitWithAck('publish', { room: 'chat:retry', data: 1, id });
    const overHttp = await post(nodeB, 'chat:retry', { data: 1, id }, token);
    expect(first).toMatchObject({ ok: true, id });
    expect(again).toEqual(first);
    expect(elsewhere).toEqual(first);
    expect(overHttp).toEqual({ status: 202, body: { id, ts: (first as { ts: number }).ts } });
    await sleep(300);
    expect(bob.received.map((e) => e.id)).toEqual([id]);

    const stolen = await (
      await connectClient(nodeA, await tokenFor('mallory', ['*']))
    ).emitWithAck('publish', { room: 'chat:retry', data: 2, id });
    expect(stolen).toMatchObject({ ok: false, error: { code: 'invalid' } });
  });

  it('publishes over HTTP to socket members', async () => {
    const bob = await connectClient(nodeA, await tokenFor('bob', ['news']));
    await bob.emitWithAck('join', { room: 'news' });
    const res = await post(nodeB, 'news', { data: { headline: 'hi' } }, await tokenFor('bot', ['news']));
    expect(res.status).toBe(202);
    await eventually(() => bob.received.length === 1, 'http publish delivered');
    expect(bob.received[0]).toMatchObject({ id: res.body.id, user: 'bot', data: { headline: 'hi' } });
  });

  it('lists presence and emits join and leave events', () =>
    expectPresenceAcrossNodes(nodeA, nodeB, 'team:1'));
});

describe('authentication', () => {
  it.each([
    ['no token', async () => ({})],
    ['a malformed token', async () => ({ token: 'not-a-jwt' })],
    ['a non-string token', async () => ({ token: 42 })],
    [
      'an expired token',
      async () => ({ token: await tokenFor('a', ['*'], { expiresIn: Math.floor(Date.now() / 1000) - 60 }) }),
    ],
    [
      'a forged token',
      async () => ({ token: await tokenFor('a', ['*'], { secret: 'some-other-secret-value' }) }),
    ],
    [
      'another algorithm',
      async () => ({ token: await tokenFor('a', ['*'], { alg: 'HS512', secret: TEST_JWT_SECRET }) }),
    ],
  ])('refuses a handshake with %s as unauthorized', async (_name, auth) => {
    expect(await handshakeError(nodeA, await auth())).toBe('unauthorized');
  });

  it('refuses HTTP without or with a bad bearer token with 401', async () => {
    expect(await post(nodeA, 'chat:x', { data: 1 })).toEqual({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'missing token' } },
    });
    const forged = await tokenFor('a', ['*'], { secret: 'some-other-secret-value' });
    expect((await post(nodeA, 'chat:x', { data: 1 }, forged)).status).toBe(401);
  });
});

describe('every error code reaches the client as { code, message }', () => {
  it('answers bad payloads with invalid and keeps the node up', async () => {
    const c = await connectClient(nodeA, await tokenFor('alice', ['*']));
    const bad: unknown[] = [
      'a string',
      null,
      42,
      {},
      { room: 'bad room!' },
      { room: 'x'.repeat(129) },
      { room: 'ok', data: 1, id: 'not-a-uuid' },
      { room: 'ok', data: 1, id: '0190d1f0-0000-4000-8000-000000000000' },
      { room: 'ok' },
      { room: 'ok', data: 1, extra: true },
    ];
    for (const payload of bad) {
      const ack = await c.emitWithAck('publish', payload as never);
      expect(ack, JSON.stringify(payload)).toMatchObject({
        ok: false,
        error: { code: 'invalid', message: expect.any(String) },
      });
    }
    expect(await c.emitWithAck('join', { room: '' } as never)).toMatchObject({
      ok: false,
      error: { code: 'invalid' },
    });
    // Events without an ack callback, and unknown events, are ignored without harm.
    const raw = c as unknown as { emit: (event: string, ...args: unknown[]) => void };
    raw.emit('publish', { room: 'ok', data: 'no ack' });
    raw.emit('publish');
    raw.emit('nonsense', 1, 2, 3);
    expect(await c.emitWithAck('join', { room: 'ok' })).toMatchObject({ ok: true });
    expect((await fetch(`${nodeA}/healthz`)).status).toBe(200);
  });

  it('answers forbidden for rooms outside the token patterns', async () => {
    const c = await connectClient(nodeA, await tokenFor('alice', ['team:42', 'chat:*']));
    expect(await c.emitWithAck('join', { room: 'team:42' })).toMatchObject({ ok: true });
    expect(await c.emitWithAck('join', { room: 'chat:anything' })).toMatchObject({ ok: true });
    expect(await c.emitWithAck('join', { room: 'team:43' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await c.emitWithAck('publish', { room: 'team:43', data: 1 })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await c.emitWithAck('presence', { room: 'team:43' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await c.emitWithAck('history', { room: 'team:43' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect((await post(nodeA, 'team:43', { data: 1 }, await tokenFor('alice', ['team:42']))).status).toBe(
      403,
    );
  });

  it('answers too_large for data over 64 KiB, on the socket and over HTTP', async () => {
    const token = await tokenFor('alice', ['*']);
    const c = await connectClient(nodeA, token);
    const big = 'x'.repeat(64 * 1024);
    expect(await c.emitWithAck('publish', { room: 'r', data: big })).toMatchObject({
      ok: false,
      error: { code: 'too_large' },
    });
    expect(await c.emitWithAck('publish', { room: 'r', data: 'x'.repeat(64 * 1024 - 2) })).toMatchObject({
      ok: true,
    });
    const res = await post(nodeA, 'r', { data: big }, token);
    expect(res).toMatchObject({ status: 413, body: { error: { code: 'too_large' } } });
  });

  it('answers not_found and invalid over HTTP', async () => {
    const token = await tokenFor('alice', ['*']);
    const missing = await fetch(`${nodeA}/v1/nothing-here`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
    expect(await post(nodeA, 'r', '{not json', token)).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid' } },
    });
    expect(await post(nodeA, 'bad%20room', { data: 1 }, token)).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid' } },
    });
    expect(await post(nodeA, 'r', { nodata: 1 }, token)).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid' } },
    });
  });

  it('reports health, readiness and metrics', async () => {
    expect(await (await fetch(`${nodeB}/healthz`)).json()).toEqual({
      status: 'ok',
      region: 'eu-west',
      node: 'eu-west-2',
    });
    const ready = await fetch(`${nodeB}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { redis: 'up' } });
    // Each figure is read before and after traffic this test causes on node A: the `# HELP` lines
    // name every metric whether or not it was ever set, so only a changed sample shows it counts.
    const value = (name: string, labels: Record<string, string> = {}) => metricValue(nodeA, name, labels);
    const before = {
      in: await value('rt_messages_in_total', { transport: 'socket' }),
      out: await value('rt_messages_out_total'),
      invalid: await value('rt_errors_total', { code: 'invalid' }),
    };
    const sender = await connectClient(nodeA, await tokenFor('metrics-sender'));
    const receiver = await connectClient(nodeA, await tokenFor('metrics-receiver'));
    for (const c of [sender, receiver]) await c.emitWithAck('join', { room: 'metrics-room' });
    await sender.emitWithAck('publish', { room: 'metrics-room', data: 'counted' });
    await eventually(() => receiver.received.length === 1, 'the delivery');
    expect(await sender.emitWithAck('publish', { room: 'bad room!', data: 1 })).toMatchObject({ ok: false });
    expect(await value('rt_messages_in_total', { transport: 'socket' })).toBe(before.in + 1);
    expect(await value('rt_messages_out_total')).toBe(before.out + 1);
    expect(await value('rt_errors_total', { code: 'invalid' })).toBe(before.invalid + 1);
    expect(await value('rt_redis_up', { client: 'regional' })).toBe(1);
    const connected = await value('rt_connections');
    expect(connected).toBeGreaterThanOrEqual(2);
    expect(await value('rt_rooms')).toBeGreaterThanOrEqual(1);
    sender.close();
    receiver.close();
    await eventually(async () => (await value('rt_connections')) <= connected - 2, 'two connections fewer');
  });
});
