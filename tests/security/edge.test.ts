import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeApp } from '../../edge/app';
import { startEdge, type EdgeRuntime } from '../../harness/processes/edge-runtime';
import { TEST_JWT_SECRET, tokenFor } from '../support/tokens';
import { startIdentityProvider, type TestIdentityProvider } from './keys';

// The edge in workerd in front of a probe "region" that records what reaches it.
let edge: EdgeRuntime;
let probe: Server;
let idp: TestIdentityProvider;
const reached: { url: string; bytes: number }[] = [];

beforeAll(async () => {
  idp = await startIdentityProvider();
  probe = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      reached.push({ url: req.url ?? '', bytes });
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"probe":true}');
    });
  });
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  edge = await startEdge({
    regions: [
      {
        id: 'eu-west',
        url: `http://127.0.0.1:${(probe.address() as AddressInfo).port}`,
        lat: 53.3,
        lon: -6.3,
      },
    ],
    sim: true,
    jwtSecret: TEST_JWT_SECRET,
    vars: { JWT_PUBLIC_KEY: idp.rsaPem },
  });
}, 120_000);
afterAll(async () => {
  await edge?.stop();
  await new Promise<void>((resolve) => (probe ? probe.close(() => resolve()) : resolve()));
  await idp?.stop();
});

describe('the edge', () => {
  it('refuses a chunked API body with 413 as soon as it passes 1 MiB, without waiting for its end', async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    let sent = 0;
    // 1.5 MiB, then the body never ends: only a check while streaming can answer.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 1.5 * 1024 * 1024) return new Promise(() => {});
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${edge.url}/v1/rooms/lobby/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenFor('big')}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
      signal: AbortSignal.timeout(15_000),
    } as RequestInit);
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('too_large');
    expect(reached).toEqual([]);
  });

  it('accepts RS256 tokens from JWT_PUBLIC_KEY like the nodes, and refuses HS256 ones signed with it', async () => {
    const ok = await fetch(`${edge.url}/v1/rooms/lobby/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await idp.rs256({ sub: 'rsa' })}`,
        'content-type': 'application/json',
      },
      body: '{"data":1}',
    });
    expect(ok.status).toBe(202);
    const forged = await tokenFor('mallory', ['*'], { secret: idp.rsaPem });
    const refused = await fetch(`${edge.url}/v1/rooms/lobby/presence`, {
      headers: { authorization: `Bearer ${forged}` },
    });
    expect(refused.status).toBe(401);
  });

  it('sends the demo page and its assets with nosniff and a Referrer-Policy', async () => {
    for (const path of ['/', '/demo/app.js', '/demo/style.css']) {
      const res = await fetch(`${edge.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      await res.body?.cancel();
    }
  });
});

describe('edge token configuration', () => {
  it('answers 500 when JWT_SECRET is shorter than 32 characters', async () => {
    const app = createEdgeApp({
      readHealth: async () => ({ source: 'static', reason: 'test', entries: [], readAt: 0 }),
    });
    const regions = JSON.stringify([{ id: 'eu-west', url: 'http://127.0.0.1:1', lat: 53.3, lon: -6.3 }]);
    const res = await app.request(
      'http://edge.test/v1/route',
      {},
      { REGIONS: regions, JWT_SECRET: 'x'.repeat(31) },
    );
    expect(res.status).toBe(500);
    expect((await res.json()).error.message).toContain('JWT_SECRET must be at least 32 characters');
  });
});
