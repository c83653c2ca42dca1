import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeAllClients, connectClient, eventually, handshakeError, sleep } from '../support/clients';
import { useTestRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';

const region = useTestRegion({
  region: 'us-east',
  nodes: 2,
  env: {
    MAX_CONNECTIONS_PER_USER: '2',
    PUBLISH_RATE_PER_CONNECTION: '3',
    PUBLISH_RATE_PER_USER: '10',
    MAX_PAYLOAD_BYTES: '1024',
  },
});
let nodeA: string;
let nodeB: string;
beforeAll(() => void ([nodeA, nodeB] = region.nodes.map((n) => n.url) as [string, string]));
afterEach(() => closeAllClients());

/** Waits for the start of a wall-clock second, so a burst falls into one per-user rate window. */
async function startOfSecond(): Promise<void> {
  while (Date.now() % 1000 > 100) await sleep(10);
}

describe('limits', () => {
  it('refuses a user over the connection limit, counted across nodes, and admits them again after one leaves', async () => {
    const token = await tokenFor('dana');
    const first = await connectClient(nodeA, token);
    await connectClient(nodeB, token);
    expect(await handshakeError(nodeA, { token })).toBe('rate_limited');
    expect(await handshakeError(nodeB, { token })).toBe('rate_limited');
    first.close();
    await eventually(async () => {
      try {
        await connectClient(nodeA, token);
        return true;
      } catch {
        return false;
      }
    }, 'a connection slot after disconnecting');
  });

  it('rate-limits one connection without disconnecting it', async () => {
    const c = await connectClient(nodeA, await tokenFor('erik'));
    await startOfSecond();
    // Sent at once, not one ack after another: on a loaded machine nine round trips can take long
    // enough for the bucket (3/s) to refill a few times over, and the burst would not be a burst.
    const acks = await Promise.all(
      [...Array(9).keys()].map((i) => c.emitWithAck('publish', { room: 'r', data: i })),
    );
    const limited = acks.filter((a) => !a.ok);
    // A burst of twice the per-second rate is allowed, the rest is refused.
    expect(acks.filter((a) => a.ok).length).toBeGreaterThanOrEqual(6);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(limited[0]).toEqual({
      ok: false,
      error: { code: 'rate_limited', message: 'too many publishes on this connection; slow down' },
    });
    expect(c.connected).toBe(true);
    await sleep(1_100);
    expect(await c.emitWithAck('publish', { room: 'r', data: 'later' })).toMatchObject({ ok: true });
  });

  it('rate-limits a user across nodes, on sockets and over HTTP', async () => {
    // The per-user rate is a one-second window: the burst must fall inside one second to be judged.
    // Under a loaded machine it may not; then the whole burst is tried again with a fresh user.
    for (let attempt = 0; ; attempt++) {
      const token = await tokenFor(`fay-${attempt}`);
      const onA = await connectClient(nodeA, token);
      const onB = await connectClient(nodeB, token);
      await startOfSecond();
      const window = Math.floor(Date.now() / 1000);
      const acks = [];
      for (let i = 0; i < 6; i++) {
        acks.push(await onA.emitWithAck('publish', { room: 'r', data: i }));
        acks.push(await onB.emitWithAck('publish', { room: 'r', data: i }));
      }
      const http = await fetch(`${nodeA}/v1/rooms/r/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ data: 'one more' }),
      });
      if (Math.floor(Date.now() / 1000) !== window && attempt < 3) continue;
      expect(acks.filter((a) => a.ok)).toHaveLength(10);
      expect(acks.filter((a) => !a.ok)).toEqual([
        {
          ok: false,
          error: { code: 'rate_limited', message: 'too many publishes for this user; slow down' },
        },
        {
          ok: false,
          error: { code: 'rate_limited', message: 'too many publishes for this user; slow down' },
        },
      ]);
      expect(http.status).toBe(429);
      expect(await http.json()).toMatchObject({ error: { code: 'rate_limited' } });
      return;
    }
  });

  it('applies the configured payload limit', async () => {
    const c = await connectClient(nodeB, await tokenFor('gus'));
    expect(await c.emitWithAck('publish', { room: 'r', data: 'x'.repeat(1100) })).toMatchObject({
      ok: false,
      error: { code: 'too_large', message: expect.stringContaining('1024') },
    });
    expect(await c.emitWithAck('publish', { room: 'r', data: 'x'.repeat(1000) })).toMatchObject({ ok: true });
  });
});
