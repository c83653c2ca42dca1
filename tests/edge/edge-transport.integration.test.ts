import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { EdgeRuntime } from '../../harness/processes/edge-runtime';
import type { Envelope } from '../../shared';
import { eventually } from '../support/clients';
import type { RegionProcess } from '../support/region-process';
import { tokenFor } from '../support/tokens';
import { cfAt, connectThroughEdge, handshakeErrorThroughEdge } from './edge-clients';
import { CITY, EDGE_SECRET, edgeTestStack } from './regions-behind-edge';

// eu-west is a real region node that requires the edge secret; "probe" (in Sydney) is an HTTP server
// that records what reaches it, to see exactly which headers the edge passes on. No health store:
// the edge routes on the static registry and says so.
let edge: EdgeRuntime;
let euWest: RegionProcess;
let probe: Server;
const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];

const frankfurt = cfAt(CITY.frankfurt.lat, CITY.frankfurt.lon, 'EU');
const sydney = cfAt(CITY.sydney.lat, CITY.sydney.lon, 'OC');

edgeTestStack(async (stack) => {
  const global = await stack.redis();
  euWest = await stack.regionNode('eu-west', global.url);
  probe = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"probe":true}');
  });
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  stack.track({ stop: () => new Promise<void>((resolve) => probe.close(() => resolve())) });
  edge = await stack.edge([
    { id: 'eu-west', url: euWest.url, lat: 53.3, lon: -6.3 },
    {
      id: 'probe',
      url: `http://127.0.0.1:${(probe.address() as AddressInfo).port}`,
      lat: -33.9,
      lon: 151.2,
    },
  ]);
});

describe('Socket.IO transports through the edge', () => {
  it('keeps a long-polling session on its region and delivers over it', async () => {
    const listener = await connectThroughEdge(edge.url, await tokenFor('poller'), {
      transports: ['polling'],
      headers: frankfurt,
    });
    expect(listener.session).toEqual({ region: 'eu-west', node: 'eu-west-1' });
    expect(listener.socket.io.engine.transport.name).toBe('polling');
    expect(listener.socket.io.engine.id).toMatch(/^eu-west~eu-west-1~/);
    expect(await listener.socket.emitWithAck('join', { room: 'edge:poll' })).toMatchObject({ ok: true });

    const received: Envelope[] = [];
    listener.socket.on('message', (envelope) => received.push(envelope));
    const sender = await connectThroughEdge(edge.url, await tokenFor('sender'), { headers: frankfurt });
    for (let i = 0; i < 5; i++) {
      expect(await sender.socket.emitWithAck('publish', { room: 'edge:poll', data: { i } })).toMatchObject({
        ok: true,
      });
    }
    await eventually(() => received.length === 5, 'five messages over long-polling');
    expect(received.map((e) => e.data)).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
    expect(listener.socket.io.engine.transport.name).toBe('polling');
  });

  it('upgrades a polling session to WebSocket through the edge', async () => {
    const { socket } = await connectThroughEdge(edge.url, await tokenFor('upgrader'), {
      transports: ['polling', 'websocket'],
      headers: frankfurt,
    });
    await eventually(() => socket.io.engine.transport.name === 'websocket', 'upgrade to websocket');
    expect(await socket.emitWithAck('join', { room: 'edge:upgrade' })).toMatchObject({ ok: true });
  });

  it('passes the region refusal of a bad socket token back as connect_error', async () => {
    const forged = await tokenFor('mallory', ['*'], { secret: 'not-the-real-secret-0123' });
    expect(await handshakeErrorThroughEdge(edge.url, forged, frankfurt)).toBe('unauthorized');
  });
});

describe('HTTP through the edge', () => {
  it('says it routes on the static registry when no health store is configured', async () => {
    const body = await (await fetch(`${edge.url}/v1/regions`)).json();
    expect(body.health.source).toBe('static');
    expect(body.health.reason).toContain('UPSTASH_REDIS_REST_URL');
    expect(body.regions.map((r: { status: string }) => r.status)).toEqual(['unknown', 'unknown']);
  });

  it('forwards the room API to the region with the edge secret', async () => {
    const headers = { ...frankfurt, authorization: `Bearer ${await tokenFor('api')}` };
    const res = await fetch(`${edge.url}/v1/rooms/edge:api/presence`, { headers });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-edge-region')).toBe('eu-west');
    expect(await res.json()).toEqual({ members: [], count: 0 });
    // The same request straight to the region, without the secret, is refused there.
    expect((await fetch(`${euWest.url}/v1/rooms/edge:api/presence`, { headers })).status).toBe(401);
  });

  it('refuses bad tokens at the edge: the region never sees them', async () => {
    const before = seen.length;
    for (const authorization of [
      '',
      'Bearer nope',
      `Bearer ${await tokenFor('x', ['*'], { expiresIn: -60 })}`,
    ]) {
      const res = await fetch(`${edge.url}/v1/rooms/lobby/messages`, {
        headers: { ...sydney, authorization },
      });
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe('unauthorized');
    }
    expect(seen.length).toBe(before);
  });

  it('strips internal headers and adds its own before forwarding', async () => {
    const requestId = 'client-request-0001';
    const res = await fetch(`${edge.url}/v1/rooms/lobby/messages?limit=5`, {
      headers: {
        ...sydney,
        authorization: `Bearer ${await tokenFor('inspector')}`,
        'x-sim-geo': `${CITY.sydney.lat},${CITY.sydney.lon}`,
        'x-edge-secret': 'forged-by-the-client',
        'x-real-ip': '198.51.100.66',
        'x-forwarded-for': '198.51.100.66',
        // Set by Cloudflare in production (a client cannot forge it there); Miniflare passes it on.
        'cf-connecting-ip': '203.0.113.9',
        'x-request-id': requestId,
        'x-app-header': 'kept',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-edge-region')).toBe('probe');
    expect(res.headers.get('x-request-id')).toBe(requestId);
    const { url, headers } = seen.at(-1)!;
    expect(url).toBe('/v1/rooms/lobby/messages?limit=5');
    expect(headers['mf-cf-blob']).toBeUndefined();
    expect(headers['x-sim-geo']).toBeUndefined();
    // `cf-worker` is the one the Workers runtime itself adds to every subrequest.
    const internal = Object.keys(headers).filter((h) => h.startsWith('mf-') || h.startsWith('cf-'));
    expect(internal).toEqual(['cf-worker']);
    expect(headers['x-edge-secret']).toBe(EDGE_SECRET);
    expect(headers['x-real-ip']).toBe('203.0.113.9');
    expect(headers['x-forwarded-for']).toBe('203.0.113.9');
    expect(headers['x-request-id']).toBe(requestId);
    expect(headers['x-app-header']).toBe('kept');
    expect(headers.authorization).toMatch(/^Bearer /);
  });
});
