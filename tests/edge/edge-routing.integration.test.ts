import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { EdgeRuntime } from '../../harness/processes/edge-runtime';
import type { NodeHealthEntry, Region } from '../../shared/regions';
import { eventually } from '../support/clients';
import type { RegionProcess } from '../support/region-process';
import { tokenFor } from '../support/tokens';
import { cfAt, connectThroughEdge, rawSocketIo } from './edge-clients';
import { CITY, edgeTestStack } from './regions-behind-edge';

// The real bundle in workerd, real region node processes beating into a real global Redis, which
// the edge reads over the Upstash REST protocol.
let edge: EdgeRuntime;
let globalRedis: Redis;
let globalRedisUrl: string;
let saEast: { port: number; process?: RegionProcess };

const saoPaulo = cfAt(CITY.saoPaulo.lat, CITY.saoPaulo.lon, 'SA');

const stack = edgeTestStack(async (stack) => {
  const global = await stack.redis();
  globalRedis = new Redis(global.url);
  stack.track({ stop: async () => globalRedis.disconnect() });
  globalRedisUrl = global.url;
  const upstash = await stack.upstash(global.url);
  const [usEast, euWest, apSoutheast] = await Promise.all(
    ['us-east', 'eu-west', 'ap-southeast'].map((id) => stack.regionNode(id, global.url)),
  );
  saEast = { port: await stack.freePort() };
  const regions: Region[] = [
    { id: 'us-east', url: usEast!.url, lat: 38.9, lon: -77.0 },
    { id: 'eu-west', url: euWest!.url, lat: 53.3, lon: -6.3 },
    { id: 'ap-southeast', url: apSoutheast!.url, lat: 1.35, lon: 103.8 },
    { id: 'sa-east', url: `http://127.0.0.1:${saEast.port}`, lat: -23.5, lon: -46.6 },
  ];
  edge = await stack.edge(regions, upstash);
});

async function route(headers: Record<string, string>) {
  return (await fetch(`${edge.url}/v1/route`, { headers })).json();
}

/** A heartbeat for sa-east as a node would write it (or as a crash leaves it, still fresh). */
async function markSaEast(overrides: Partial<NodeHealthEntry>): Promise<void> {
  const entry: NodeHealthEntry = {
    region: 'sa-east',
    node: 'sa-east-1',
    url: `http://127.0.0.1:${saEast.port}`,
    connections: 0,
    capacity: 100,
    load: 0,
    draining: false,
    expiresAt: Date.now() + 60_000,
    ...overrides,
  };
  await globalRedis.hset('rt:health', 'sa-east/sa-east-1', JSON.stringify(entry));
}

describe('the edge in workerd routes real clients to the nearest healthy region', () => {
  it('shows the live health the region nodes publish', async () => {
    await markSaEast({ draining: true });
    await eventually(async () => {
      const body = await (await fetch(`${edge.url}/v1/regions`)).json();
      return (
        body.health.source === 'live' &&
        body.regions.filter((r: { status: string }) => r.status === 'healthy').length === 3
      );
    }, 'three healthy regions in /v1/regions');
    const body = await (await fetch(`${edge.url}/v1/regions`)).json();
    expect(body.regions.find((r: { id: string }) => r.id === 'eu-west').nodes[0]).toMatchObject({
      node: 'eu-west-1',
      fresh: true,
    });
  });

  it('lands a WebSocket client in Frankfurt on eu-west and one in Tokyo on ap-southeast', async () => {
    const token = await tokenFor('alice');
    const frankfurt = await connectThroughEdge(edge.url, token, {
      headers: cfAt(CITY.frankfurt.lat, CITY.frankfurt.lon, 'EU'),
    });
    expect(frankfurt.session).toEqual({ region: 'eu-west', node: 'eu-west-1' });
    const tokyo = await connectThroughEdge(edge.url, token, {
      headers: cfAt(CITY.tokyo.lat, CITY.tokyo.lon, 'AS'),
    });
    expect(tokyo.session).toEqual({ region: 'ap-southeast', node: 'ap-southeast-1' });
  });

  it('takes the simulated location from the handshake query', async () => {
    const { session } = await connectThroughEdge(edge.url, await tokenFor('bob'), {
      query: { geo: `${CITY.tokyo.lat},${CITY.tokyo.lon}` },
    });
    expect(session.region).toBe('ap-southeast');
  });

  it('passes a raw WebSocket through, 101 and all', async () => {
    const client = await rawSocketIo(
      edge.url,
      await tokenFor('carol'),
      cfAt(CITY.frankfurt.lat, CITY.frankfurt.lon),
    );
    const open = JSON.parse((await client.next('0')).slice(1));
    expect(open.sid).toMatch(/^eu-west~eu-west-1~/);
    client.send(`40${JSON.stringify({ token: client.token })}`);
    await client.next('40');
    const session = JSON.parse((await client.next('42')).slice(2));
    expect(session).toEqual(['session', { region: 'eu-west', node: 'eu-west-1' }]);
  });

  it('skips a region marked unhealthy in Redis', async () => {
    await markSaEast({ draining: true });
    const decision = await route(saoPaulo);
    expect(decision).toMatchObject({ region: 'us-east', reason: 'nearest-healthy', health: 'live' });
    expect(decision.skipped).toEqual([{ region: 'sa-east', status: 'draining' }]);
    const { session } = await connectThroughEdge(edge.url, await tokenFor('dave'), { headers: saoPaulo });
    expect(session.region).toBe('us-east');
  });

  it('routes to a region once its node beats healthy again', async () => {
    saEast.process = await stack.regionNode('sa-east', globalRedisUrl, saEast.port);
    await eventually(async () => (await route(saoPaulo)).region === 'sa-east', 'sa-east chosen again');
    const { session } = await connectThroughEdge(edge.url, await tokenFor('erin'), { headers: saoPaulo });
    expect(session).toEqual({ region: 'sa-east', node: 'sa-east-1' });
  });

  it('fails over to the next nearest region when the chosen one does not answer', async () => {
    await saEast.process!.kill();
    // A crashed node's heartbeat stays fresh until it expires: the edge still picks sa-east first.
    await markSaEast({});
    expect(await route(saoPaulo)).toMatchObject({ region: 'sa-east', failover: ['us-east', 'eu-west'] });
    const { session } = await connectThroughEdge(edge.url, await tokenFor('frank'), { headers: saoPaulo });
    expect(session.region).toBe('us-east');
    const polling = await connectThroughEdge(edge.url, await tokenFor('frank'), {
      headers: saoPaulo,
      transports: ['polling'],
    });
    expect(polling.session.region).toBe('us-east');

    const res = await fetch(`${edge.url}/v1/rooms/lobby/messages`, {
      method: 'POST',
      headers: {
        ...saoPaulo,
        authorization: `Bearer ${await tokenFor('frank')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ data: { hello: 'from São Paulo' } }),
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-edge-region')).toBe('us-east');
    expect(await res.json()).toMatchObject({ id: expect.any(String), ts: expect.any(Number) });
  });
});
