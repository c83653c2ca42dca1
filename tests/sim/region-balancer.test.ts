import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRegionBalancer, type RegionBalancer } from '../../infra/local/region-balancer';
import { closeAllClients, connectClient, eventually, type TestClient } from '../support/clients';
import { startTestRegion, type TestRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';

let region: TestRegion;
let balancer: RegionBalancer;

beforeAll(async () => {
  region = await startTestRegion({ region: 'eu-west', nodes: 2 });
  balancer = await startRegionBalancer({ nodes: region.nodes.map((n) => ({ id: n.nodeId, url: n.url })) });
});
afterAll(async () => {
  await balancer?.close();
  await region?.stop();
});
afterEach(() => closeAllClients());

describe('the local region balancer', () => {
  it('keeps long-polling sessions on their node and spreads new sessions over nodes', async () => {
    const sessions: string[] = [];
    const clients: TestClient[] = [];
    for (let i = 0; i < 4; i++) {
      const client = await connectClient(balancer.url, await tokenFor(`poller${i}`), {
        transports: ['polling'],
      });
      clients.push(client);
      sessions.push(client.io.engine.id);
      await client.emitWithAck('join', { room: 'poll' });
    }
    expect(new Set(sessions.map((sid) => sid.split('~')[1]))).toEqual(new Set(['eu-west-1', 'eu-west-2']));
    // Several polling round trips per client: each must reach the node holding its session.
    const ack = await clients[0]!.emitWithAck('publish', { room: 'poll', data: 'over polling' });
    expect(ack.ok).toBe(true);
    await eventually(
      () => clients.slice(1).every((c) => c.received.length === 1),
      'delivery to every poller',
    );
    for (const c of clients) expect(c.connected).toBe(true);
  });

  it('passes WebSocket upgrades through and stops sending new sessions to a node that is down', async () => {
    const ws = await connectClient(balancer.url, await tokenFor('ws'));
    expect(ws.io.engine.transport.name).toBe('websocket');
    await region.nodes[1]!.kill();
    await eventually(
      async () => {
        const probes = await Promise.all(
          [0, 1, 2].map(async (i) =>
            connectClient(balancer.url, await tokenFor(`after${i}`)).then(
              () => true,
              () => false,
            ),
          ),
        );
        return probes.every(Boolean);
      },
      'every new session to reach the live node',
      10_000,
    );
  });
});
