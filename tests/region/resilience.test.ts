import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAllClients, connectClient, eventually, handshakeError, sleep } from '../support/clients';
import { startTestRegion, type TestRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';
import { keys } from '../../regions/keyspace';

const running: TestRegion[] = [];
afterEach(async () => {
  closeAllClients();
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

async function region(options: Parameters<typeof startTestRegion>[0]): Promise<TestRegion> {
  const r = await startTestRegion(options);
  running.push(r);
  return r;
}

describe('drain on SIGTERM', () => {
  it('tells clients to reconnect, refuses new handshakes, closes within the timeout and exits 0', async () => {
    const r = await region({ region: 'eu-west', nodes: 1, env: { DRAIN_TIMEOUT_MS: '2000' } });
    const node = r.nodes[0]!;
    const leaver = await connectClient(node.url, await tokenFor('leaver'));
    const stayer = await connectClient(node.url, await tokenFor('stayer'));
    const drained = new Promise((resolve) => leaver.once('drain', resolve));
    const stayerDisconnected = new Promise((resolve) => stayer.once('disconnect', resolve));
    leaver.once('drain', () => leaver.close());

    node.proc.child.kill('SIGTERM');
    expect(await drained).toEqual({ reason: 'shutdown' });
    // The node still listens while it drains: the handshake reaches it and is refused, not dropped.
    expect(await handshakeError(node.url, { token: await tokenFor('latecomer') })).toBe('unavailable');
    await stayerDisconnected; // the client that ignored `drain` is closed at the deadline
    expect(await node.proc.exited).toBe(0);
  });
});

describe('regional Redis outage', () => {
  it('keeps the node up and serving its local rooms, reports not ready, and recovers when Redis returns', async () => {
    const r = await region({ region: 'ap-southeast', nodes: 2 });
    const [a, b] = r.nodes.map((n) => n.url) as [string, string];
    const alice = await connectClient(a, await tokenFor('alice'));
    const bob = await connectClient(a, await tokenFor('bob'));
    const carol = await connectClient(b, await tokenFor('carol'));
    for (const c of [alice, bob, carol]) await c.emitWithAck('join', { room: 'ops' });

    await r.redis.stop();
    await eventually(
      async () => (await fetch(`${a}/readyz`)).status === 503,
      'not ready while Redis is down',
    );
    expect(await (await fetch(`${a}/readyz`)).json()).toMatchObject({
      status: 'not_ready',
      checks: { redis: 'down' },
    });

    const during = await alice.emitWithAck('publish', { room: 'ops', data: 'during the outage' });
    expect(during).toMatchObject({ ok: true });
    await eventually(() => bob.received.length === 1, 'local delivery during the outage');
    expect((await fetch(`${a}/healthz`)).status).toBe(200);

    await r.redis.restart();
    await eventually(async () => (await fetch(`${a}/readyz`)).status === 200, 'ready again', 20_000);
    await eventually(async () => (await fetch(`${b}/readyz`)).status === 200, 'peer ready again', 20_000);
    // The envelope accepted during the outage was appended to the regional queue once Redis was back.
    const redis = new Redis(r.redis.url);
    try {
      await eventually(async () => (await redis.xlen(keys.outbox())) >= 1, 'held envelope queued');
      const entries = await redis.xrange(keys.outbox(), '-', '+');
      expect(entries.map(([, fields]) => JSON.parse(fields[1]!).data)).toContain('during the outage');
    } finally {
      redis.disconnect();
    }
    // Cross-node fan-out works again (the adapter resubscribed by itself).
    await eventually(
      async () => {
        const ack = await alice.emitWithAck('publish', { room: 'ops', data: 'after' });
        expect(ack.ok).toBe(true);
        await sleep(200);
        return carol.received.some((e) => e.data === 'after');
      },
      'cross-node delivery after recovery',
      20_000,
    );
  });
});

describe('EDGE_SECRET', () => {
  it('refuses handshakes and API calls that do not carry it, and accepts those that do', async () => {
    const secret = 'edge-secret-0123456789';
    const r = await region({ region: 'eu-west', nodes: 1, env: { EDGE_SECRET: secret } });
    const url = r.nodes[0]!.url;
    const token = await tokenFor('alice');
    await expect(connectClient(url, token)).rejects.toThrow();
    await expect(connectClient(url, token, { transports: ['polling'] })).rejects.toThrow();
    const client = await connectClient(url, token, { extraHeaders: { 'x-edge-secret': secret } });
    expect(client.connected).toBe(true);

    const call = (headers: Record<string, string>) =>
      fetch(`${url}/v1/rooms/r/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ data: 1 }),
      });
    expect((await call({})).status).toBe(401);
    expect((await call({ 'x-edge-secret': 'wrong' })).status).toBe(401);
    expect((await call({ 'x-edge-secret': secret })).status).toBe(202);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
