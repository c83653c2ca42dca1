import { describe, expect, it } from 'vitest';
import { createEdgeApp } from '../../edge/app';
import type { EdgeBindings } from '../../edge/config';
import { healthFromHash, type HealthSnapshot } from '../../edge/routing';
import type { NodeHealthEntry, Region } from '../../shared/regions';

const NOW = 1_700_000_000_000;
const REGIONS: Region[] = [
  { id: 'us-east', url: 'http://127.0.0.1:1', lat: 38.9, lon: -77.0 },
  { id: 'eu-west', url: 'http://127.0.0.1:2', lat: 53.3, lon: -6.3 },
  { id: 'ap-southeast', url: 'http://127.0.0.1:3', lat: 1.35, lon: 103.8 },
];

function node(region: string, overrides: Partial<NodeHealthEntry> = {}): NodeHealthEntry {
  return {
    region,
    node: `${region}-1`,
    url: 'http://127.0.0.1:9',
    connections: 10,
    capacity: 100,
    load: 0.1,
    draining: false,
    expiresAt: NOW + 5_000,
    ...overrides,
  };
}

const live = (entries: NodeHealthEntry[]): HealthSnapshot =>
  healthFromHash(Object.fromEntries(entries.map((e) => [`${e.region}/${e.node}`, JSON.stringify(e)])), NOW);
const allHealthy = () => live(REGIONS.map((r) => node(r.id)));

function edge(health: HealthSnapshot = allHealthy(), bindings: Partial<EdgeBindings> = {}, now = () => NOW) {
  const app = createEdgeApp({ readHealth: async () => health, now });
  const env: EdgeBindings = {
    REGIONS: JSON.stringify(REGIONS),
    SIM: '1',
    JWT_SECRET: 'x'.repeat(32),
    ...bindings,
  };
  return {
    request: (path: string, init: RequestInit & { cf?: Record<string, unknown> } = {}) => {
      const { cf, ...rest } = init;
      const request = new Request(`http://edge.test${path}`, rest);
      // request.cf as Cloudflare sets it: latitude and longitude are strings.
      if (cf) Object.defineProperty(request, 'cf', { value: cf });
      return app.request(request, undefined, env);
    },
  };
}

const CITIES: [string, string, number, number, string][] = [
  ['Europe', 'Frankfurt', 50.11, 8.68, 'eu-west'],
  ['Europe', 'Madrid', 40.42, -3.7, 'eu-west'],
  ['Asia', 'Tokyo', 35.68, 139.69, 'ap-southeast'],
  ['Asia', 'Mumbai', 19.07, 72.88, 'ap-southeast'],
  ['North America', 'New York', 40.71, -74.0, 'us-east'],
  ['North America', 'San Francisco', 37.77, -122.42, 'us-east'],
  ['South America', 'São Paulo', -23.55, -46.63, 'us-east'],
  ['Africa', 'Lagos', 6.52, 3.38, 'eu-west'],
  ['Africa', 'Nairobi', -1.29, 36.82, 'eu-west'],
  ['Oceania', 'Sydney', -33.87, 151.21, 'ap-southeast'],
  ['Antarctica', 'McMurdo', -77.85, 166.67, 'ap-southeast'],
];

describe('routing to the nearest region', () => {
  it.each(CITIES)('%s: a caller in %s goes to the nearest region', async (_c, _city, lat, lon, expected) => {
    const res = await edge().request('/v1/route', {
      cf: { latitude: String(lat), longitude: String(lon), continent: 'XX' },
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ region: expected, reason: 'nearest', health: 'live', skipped: [] });
    expect(body.caller).toMatchObject({ lat, lon, source: 'cf' });
    expect(body.distanceKm).toBeGreaterThan(0);
    expect(body.failover).toHaveLength(2);
  });

  it('routes each caller on its own location while one health read serves them all', async () => {
    const app = edge();
    const regionFor = async (path: string, init: Parameters<typeof app.request>[1] = {}) =>
      (await (await app.request(path, init)).json()).region;
    for (let round = 0; round < 2; round++) {
      expect(await regionFor('/v1/route?geo=50.11,8.68')).toBe('eu-west');
      expect(await regionFor('/v1/route?geo=35.68,139.69')).toBe('ap-southeast');
      expect(await regionFor('/v1/route', { headers: { 'x-sim-geo': '40.71,-74.0' } })).toBe('us-east');
      expect(await regionFor('/v1/route', { cf: { latitude: '35.68', longitude: '139.69' } })).toBe(
        'ap-southeast',
      );
      expect(await regionFor('/v1/route', { cf: { continent: 'EU' } })).toBe('eu-west');
      expect(await regionFor('/v1/route', { cf: { continent: 'AS' } })).toBe('ap-southeast');
    }
  });

  it('gives the great-circle distance in km (Frankfurt to Dublin is about 1,090 km)', async () => {
    const body = await (await edge().request('/v1/route?geo=50.11,8.68')).json();
    expect(body.distanceKm).toBeGreaterThan(1_050);
    expect(body.distanceKm).toBeLessThan(1_130);
    expect(body.caller.source).toBe('sim-query');
  });

  it('breaks a tie by registry order', async () => {
    const twins: Region[] = [
      { id: 'east', url: 'http://127.0.0.1:1', lat: 0, lon: 10 },
      { id: 'west', url: 'http://127.0.0.1:2', lat: 0, lon: -10 },
    ];
    const health: HealthSnapshot = { source: 'static', reason: 'test', entries: [], readAt: NOW };
    for (const order of [twins, [...twins].reverse()]) {
      const res = await edge(health, { REGIONS: JSON.stringify(order) }).request('/v1/route', {
        headers: { 'x-sim-geo': '0,0' },
      });
      expect((await res.json()).region).toBe(order[0]!.id);
    }
  });

  it('uses the continent when coordinates are missing, then the first region', async () => {
    const asia = await (await edge().request('/v1/route', { cf: { continent: 'AS' } })).json();
    expect(asia).toMatchObject({ region: 'ap-southeast', reason: 'continent', distanceKm: null });
    const nowhere = await (await edge().request('/v1/route')).json();
    expect(nowhere).toMatchObject({ region: 'us-east', reason: 'default', distanceKm: null });
    expect(nowhere.caller).toMatchObject({ lat: null, lon: null, source: 'none' });
    const emptyCf = await (await edge().request('/v1/route', { cf: { latitude: '', longitude: '' } })).json();
    expect(emptyCf.reason).toBe('default');
  });

  it('ignores simulated geo outside the simulation', async () => {
    const res = await edge(allHealthy(), { SIM: '0' }).request('/v1/route?geo=35.68,139.69', {
      headers: { 'x-sim-geo': '35.68,139.69' },
      cf: { latitude: '50.11', longitude: '8.68' },
    });
    expect(await res.json()).toMatchObject({ region: 'eu-west', caller: { source: 'cf' } });
  });
});

describe('routing around unhealthy regions', () => {
  const frankfurt = { headers: { 'x-sim-geo': '50.11,8.68' } };

  it.each([
    ['draining', node('eu-west', { draining: true })],
    ['over_capacity', node('eu-west', { connections: 100 })],
    ['down', node('eu-west', { expiresAt: NOW - 1 })],
  ])('skips a region that is %s', async (status, euWest) => {
    const health = live([node('us-east'), euWest, node('ap-southeast')]);
    const body = await (await edge(health).request('/v1/route', frankfurt)).json();
    expect(body).toMatchObject({ region: 'us-east', reason: 'nearest-healthy', failover: ['ap-southeast'] });
    expect(body.skipped).toEqual([{ region: 'eu-west', status }]);
  });

  it('stops routing to a region whose heartbeat runs out while the same health read is reused', async () => {
    const health = live([node('us-east'), node('eu-west', { expiresAt: NOW + 1_000 }), node('ap-southeast')]);
    let now = NOW;
    const app = edge(health, {}, () => now);
    expect((await (await app.request('/v1/route', frankfurt)).json()).region).toBe('eu-west');
    now = NOW + 1_000;
    const body = await (await app.request('/v1/route', frankfurt)).json();
    expect(body).toMatchObject({ region: 'us-east', reason: 'nearest-healthy' });
    expect(body.skipped).toEqual([{ region: 'eu-west', status: 'down' }]);
  });

  it('keeps a region while one of its nodes takes sessions', async () => {
    const health = live([
      node('eu-west', { node: 'eu-west-1', draining: true }),
      node('eu-west', { node: 'eu-west-2' }),
    ]);
    expect((await (await edge(health).request('/v1/route', frankfurt)).json()).region).toBe('eu-west');
  });

  it('answers 503 unavailable when every region is down, draining or full', async () => {
    const health = live([
      node('us-east', { draining: true }),
      node('eu-west', { connections: 500 }),
      node('ap-southeast', { node: 'ap-2', expiresAt: NOW - 1 }),
      node('us-east', { node: 'us-2', draining: true }),
    ]);
    const app = edge(health);
    const route = await app.request('/v1/route', frankfurt);
    expect(route.status).toBe(503);
    expect((await route.json()).error.code).toBe('unavailable');
    const handshake = await app.request('/socket.io/?EIO=4&transport=polling', frankfurt);
    expect(handshake.status).toBe(503);
    expect(await handshake.json()).toEqual({
      error: { code: 'unavailable', message: 'no region is taking new sessions' },
    });
  });

  it('routes on the static registry when no heartbeat is fresh, and says so', async () => {
    const health = live(REGIONS.map((r) => node(r.id, { expiresAt: NOW - 10 })));
    const app = edge(health);
    const regions = await (await app.request('/v1/regions')).json();
    expect(regions.health).toMatchObject({ source: 'static', reason: 'no fresh heartbeat in rt:health' });
    expect(regions.regions.map((r: { status: string }) => r.status)).toEqual([
      'unknown',
      'unknown',
      'unknown',
    ]);
    expect((await (await app.request('/v1/route', frankfurt)).json()).region).toBe('eu-west');
  });

  it('shows live health per region and node in /v1/regions', async () => {
    const health = live([node('us-east'), node('eu-west', { draining: true }), node('ap-southeast')]);
    const body = await (await edge(health).request('/v1/regions')).json();
    expect(body.health.source).toBe('live');
    expect(body.regions[1]).toMatchObject({
      id: 'eu-west',
      status: 'draining',
      nodes: [{ node: 'eu-west-1', draining: true, fresh: true, connections: 10, capacity: 100 }],
    });
    expect(JSON.stringify(body)).not.toContain('127.0.0.1');
  });

  it('ignores malformed heartbeats', () => {
    const snapshot = healthFromHash(
      { 'a/b': 'not json', 'c/d': '{"region":"c"}', ...{ 'e/f': JSON.stringify(node('eu-west')) } },
      NOW,
    );
    expect(snapshot.entries.map((e) => e.region)).toEqual(['eu-west']);
  });
});
