import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRegionBalancer, type RegionBalancer } from '../../harness/processes/haproxy';
import { freePort } from '../../harness/processes/ports';
import { closeAllClients, connectClient, eventually, type TestClient } from '../support/clients';
import { useBalancedRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';

// A long drain, so the test can watch a draining node while it still serves its own sessions.
const region = useBalancedRegion(20_000);
let balancer: RegionBalancer;
beforeAll(() => void (balancer = region.balancer));
afterEach(() => closeAllClients());

const nodeOf = (client: TestClient) => client.io.engine.id.split('~')[1];

/** HAProxy's view of its servers, from its Prometheus endpoint: server -> state that is 1. */
async function serverStates(): Promise<Record<string, string>> {
  const text = await (await fetch(balancer.metricsUrl)).text();
  const states: Record<string, string> = {};
  for (const m of text.matchAll(
    /^haproxy_server_status\{proxy="nodes",server="([^"]+)",state="(\w+)"\} 1$/gm,
  ))
    states[m[1]!] = m[2]!;
  return states;
}

describe("HAProxy in front of a region's nodes (the deploy files' configuration)", () => {
  it('keeps every request of a long-polling session on its node, over many round trips', async () => {
    const clients: TestClient[] = [];
    for (let i = 0; i < 4; i++) {
      const client = await connectClient(balancer.url, await tokenFor(`poller${i}`), {
        transports: ['polling'],
      });
      clients.push(client);
      expect((await client.emitWithAck('join', { room: 'poll' })).ok).toBe(true);
    }
    // New sessions are spread over both ready nodes.
    expect(new Set(clients.map(nodeOf))).toEqual(new Set(['eu-west-1', 'eu-west-2']));
    const sessions = clients.map((c) => c.io.engine.id);
    // Each publish is a POST, each delivery a held GET: a request reaching the wrong node would end
    // the session there ("Session ID unknown") and the client would disconnect.
    for (let round = 0; round < 15; round++) {
      const sender = clients[round % clients.length]!;
      expect((await sender.emitWithAck('publish', { room: 'poll', data: round })).ok).toBe(true);
    }
    // A publisher does not get its own envelopes back: each receives the others' publishes.
    const expected = (i: number) => [...Array(15).keys()].filter((round) => round % clients.length !== i);
    await eventually(
      () => clients.every((c, i) => c.received.length === expected(i).length),
      "every poller to receive the others' publishes",
    );
    for (const [i, c] of clients.entries()) {
      expect(c.connected).toBe(true);
      expect(c.io.engine.id).toBe(sessions[i]);
      expect(c.received.map((e) => e.data)).toEqual(expected(i));
    }
  });

  it('passes WebSocket upgrades through, from a fresh WebSocket and from long-polling', async () => {
    const ws = await connectClient(balancer.url, await tokenFor('ws'));
    expect(ws.io.engine.transport.name).toBe('websocket');
    const upgraded = await connectClient(balancer.url, await tokenFor('upgrader'), {
      transports: ['polling', 'websocket'],
    });
    await eventually(() => upgraded.io.engine.transport.name === 'websocket', 'the upgrade to WebSocket');
    expect((await upgraded.emitWithAck('join', { room: 'ws' })).ok).toBe(true);
  });

  it('sends no new session to a draining node, while its own sessions still reach it', async () => {
    // A long-polling client on node 2 that stays through the drain (it ignores the `drain` hint).
    let stayer: TestClient | undefined;
    for (let i = 0; i < 6 && !stayer; i++) {
      const c = await connectClient(balancer.url, await tokenFor(`stayer${i}`), { transports: ['polling'] });
      if (nodeOf(c) === 'eu-west-2') stayer = c;
    }
    expect(stayer, 'a session on eu-west-2').toBeDefined();
    const draining = region.nodes[1]!;
    draining.proc.child.kill('SIGTERM');
    await eventually(async () => (await serverStates())['eu-west-2'] === 'DOWN', 'HAProxy to see the drain');

    const newcomers = await Promise.all(
      [...Array(6).keys()].map(async (i) => connectClient(balancer.url, await tokenFor(`new${i}`))),
    );
    expect(newcomers.map(nodeOf)).toEqual(Array(6).fill('eu-west-1'));
    // The draining node still answers the session it holds, through HAProxy.
    expect((await stayer!.emitWithAck('join', { room: 'still-here' })).ok).toBe(true);
    expect(stayer!.connected).toBe(true);
    stayer!.close();
    await draining.proc.exited;
    await draining.restart();
    await eventually(async () => (await serverStates())['eu-west-2'] === 'UP', 'the node back in rotation');
  });
});

describe('HAProxy headers and its own metrics', () => {
  let echo: Server;
  let seen: IncomingHttpHeaders[];
  let lb: RegionBalancer;
  beforeAll(async () => {
    seen = [];
    echo = createServer((req, res) => {
      if (req.url !== '/readyz') seen.push(req.headers);
      res.end('ok');
    });
    const port = await freePort();
    await new Promise<void>((r) => echo.listen(port, '127.0.0.1', r));
    lb = await startRegionBalancer({
      region: 'eu-west',
      nodes: [{ id: 'echo', url: `http://127.0.0.1:${port}` }],
    });
  });
  afterAll(async () => {
    await lb?.close();
    echo?.close();
  });

  it("sets x-forwarded-for to the caller's address", async () => {
    await fetch(`${lb.url}/v1/anything`);
    expect(seen.at(-1)!['x-forwarded-for']).toBe('127.0.0.1');
  });

  it("serves HAProxy's Prometheus metrics on the operator port, and no operator endpoint publicly", async () => {
    const text = await (await fetch(lb.metricsUrl)).text();
    expect(text).toMatch(/^haproxy_backend_active_servers\{proxy="nodes"\} 1$/m);
    const before = seen.length;
    for (const path of ['/metrics', '/readyz']) expect((await fetch(`${lb.url}${path}`)).status).toBe(404);
    expect(seen.length, 'nothing reached the node').toBe(before);
    expect((await fetch(`${lb.url}/healthz`)).status).toBe(200);
  });
});
