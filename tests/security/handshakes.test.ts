import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../harness/processes/ports';
import { closeAllClients, connectClient, eventually, handshakeError, sleep } from '../support/clients';
import { startTestRegion, type TestRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';

const APP_ORIGIN = 'https://app.example';
let region: TestRegion;
let url: string;
let metricsUrl: string;

beforeAll(async () => {
  const metricsPort = await freePort();
  region = await startTestRegion({
    region: 'eu-west',
    nodes: 1,
    env: {
      HANDSHAKE_RATE_PER_IP: '1',
      CONNECT_TIMEOUT_MS: '1000',
      // The test process plays the trusted proxy: each test's x-forwarded-for is its own client IP.
      TRUSTED_PROXIES: '127.0.0.1/32,::1/128',
      ALLOWED_ORIGINS: APP_ORIGIN,
      METRICS_PORT: String(metricsPort),
    },
  });
  url = region.nodes[0]!.url;
  metricsUrl = `http://127.0.0.1:${metricsPort}`;
});
afterAll(() => region?.stop());
afterEach(() => closeAllClients());

const from = (ip: string, extra: Record<string, string> = {}) => ({ 'x-forwarded-for': ip, ...extra });

/** An Engine.IO polling handshake that never goes on to the Socket.IO connect. */
async function openBareSession(ip: string): Promise<string> {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: from(ip) });
  expect(res.status).toBe(200);
  const text = await res.text();
  return (JSON.parse(text.slice(1)) as { sid: string }).sid;
}

async function connectionsMetric(): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => /^\w*connections\{/.test(l) && !l.includes('per'));
  return Number(line?.split(' ').pop());
}

describe('handshakes', () => {
  it('counts only sockets that completed the authenticated connect, and closes bare sessions', async () => {
    const sids = [];
    for (let i = 0; i < 30; i++) sids.push(await openBareSession(`198.51.100.${i + 1}`));
    expect(await connectionsMetric()).toBe(0);
    await connectClient(url, await tokenFor('real'), { extraHeaders: from('192.0.2.1') });
    expect(await connectionsMetric()).toBe(1);

    // Past CONNECT_TIMEOUT_MS the node closes them: a poll gets the close packet, then the session is gone.
    await sleep(1_500);
    for (const sid of sids.slice(0, 3)) {
      const poll = () =>
        fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { headers: from('198.51.100.1') });
      const first = await poll();
      if (first.status === 200) expect((await first.text()).split('\x1e')).toContain('1');
      await eventually(async () => (await poll()).status === 400, 'the session to be gone', 5_000);
    }
  });

  it('limits handshakes per client IP (from x-forwarded-for of a trusted proxy), not for other IPs', async () => {
    // HANDSHAKE_RATE_PER_IP=1: a burst of 2, then one a second. Handshakes one after another exhaust
    // the bucket as long as each takes under a second, however loaded the machine is.
    const statuses: number[] = [];
    while (statuses.length < 12 && !statuses.includes(403)) {
      const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: from('203.0.113.7') });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses).toContain(403);
    expect(await handshakeError(url, { token: await tokenFor('same-ip') }, from('203.0.113.7'))).toMatch(
      /rate_limited|websocket error/,
    );
    const other = await connectClient(url, await tokenFor('other-ip'), { extraHeaders: from('203.0.113.8') });
    expect(other.connected).toBe(true);
  });
});

describe('origins', () => {
  it('refuses a browser origin not in ALLOWED_ORIGINS, and allows credentials only for listed ones', async () => {
    const evil = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, {
      headers: from('192.0.2.50', { origin: 'https://evil.example' }),
    });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();

    const good = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, {
      headers: from('192.0.2.51', { origin: APP_ORIGIN }),
    });
    expect(good.status).toBe(200);
    expect(good.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(good.headers.get('access-control-allow-credentials')).toBe('true');

    const ws = await handshakeError(
      url,
      { token: await tokenFor('evil') },
      from('192.0.2.52', { origin: 'https://evil.example' }),
    );
    expect(ws).not.toBe('');
    // A client without Origin (a server, a native app) is not a browser and connects.
    expect(
      (await connectClient(url, await tokenFor('native'), { extraHeaders: from('192.0.2.53') })).connected,
    ).toBe(true);
  });
});

describe('METRICS_PORT', () => {
  it('moves /metrics off the public port; /readyz stays on both', async () => {
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
    expect((await fetch(`${metricsUrl}/metrics`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await fetch(`${metricsUrl}/readyz`)).status).toBe(200);
    await eventually(async () => (await fetch(`${metricsUrl}/healthz`)).ok, 'healthz on the operator port');
  });
});
