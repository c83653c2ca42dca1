import { describe, expect, it } from 'vitest';
import { createEdgeApp } from '../../edge/app';
import type { EdgeBindings } from '../../edge/config';
import { verifyAccessToken } from '../../shared/auth';
import { tokenFor } from '../support/tokens';

const SECRET = 'edge-test-secret-0123456789-abcdefgh';
const REGIONS = JSON.stringify([{ id: 'eu-west', url: 'http://127.0.0.1:1', lat: 53.3, lon: -6.3 }]);

function edge(bindings: Partial<EdgeBindings> = {}) {
  const app = createEdgeApp({
    readHealth: async () => ({ source: 'static', reason: 'test', entries: [], readAt: 0 }),
  });
  const env: EdgeBindings = { REGIONS, SIM: '1', JWT_SECRET: SECRET, ...bindings };
  return (path: string, init?: RequestInit) => app.request(`http://edge.test${path}`, init, env);
}

describe('a bad registry', () => {
  it.each([
    ['not set', undefined, 'REGIONS is not set'],
    ['not JSON', '[{', 'REGIONS is not valid JSON'],
    ['empty', '[]', 'REGIONS: must list at least one region'],
    ['missing lat', '[{"id":"eu-west","url":"http://a.test","lon":1}]', 'REGIONS[0].lat'],
    ['a bad URL', '[{"id":"eu-west","url":"ftp://a.test","lat":1,"lon":1}]', 'REGIONS[0].url'],
    [
      'duplicate ids',
      '[{"id":"a","url":"http://a.test","lat":1,"lon":1},{"id":"a","url":"http://b.test","lat":1,"lon":1}]',
      'region ids must be unique',
    ],
  ])('answers 500 with a clear error when REGIONS is %s', async (_what, regions, message) => {
    const res = await edge({ REGIONS: regions })('/v1/route');
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.error.code).toBe('unavailable');
    expect(body.error.message).toContain('edge misconfigured');
    expect(body.error.message).toContain(message);
  });

  it('accepts REGIONS written as a TOML array (an object binding)', async () => {
    const res = await edge({ REGIONS: JSON.parse(REGIONS) })('/v1/route');
    expect((await res.json()).region).toBe('eu-west');
  });
});

describe('the HTTP API at the edge', () => {
  it('refuses a missing, forged or expired token before any region is asked', async () => {
    const cases = [
      undefined,
      await tokenFor('mallory', ['*'], { secret: 'another-secret-0123456789' }),
      await tokenFor('late', ['*'], { secret: SECRET, expiresIn: -10 }),
    ];
    for (const token of cases) {
      const res = await edge()('/v1/rooms/lobby/messages', {
        method: 'POST',
        headers: token ? { authorization: `Bearer ${token}` } : {},
        body: JSON.stringify({ data: 1 }),
      });
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe('unauthorized');
      expect(res.headers.get('x-edge-region')).toBeNull();
    }
  });

  it('answers 503 when the region cannot be reached', async () => {
    const token = await tokenFor('alice', ['*'], { secret: SECRET });
    const res = await edge()('/v1/rooms/lobby/presence', { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(503);
    expect((await res.json()).error).toEqual({ code: 'unavailable', message: 'no region answered' });
  });

  it('applies the configured CORS origins', async () => {
    const call = edge({ CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' });
    const preflight = (origin: string) =>
      call('/v1/rooms/lobby/messages', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    const allowed = await preflight('https://admin.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://admin.example.com');
    expect(
      (await preflight('https://evil.example.com')).headers.get('access-control-allow-origin'),
    ).toBeNull();
  });
});

describe('request ids, sessions and unknown paths', () => {
  it('returns the caller request id when well formed, a new one otherwise', async () => {
    const kept = await edge()('/healthz', { headers: { 'x-request-id': 'req-12345678' } });
    expect(kept.headers.get('x-request-id')).toBe('req-12345678');
    const made = await edge()('/healthz', { headers: { 'x-request-id': 'bad id!' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a session id that names no region of the registry', async () => {
    for (const sid of ['plain-socket-io-id', 'mars~mars-1~abc']) {
      const res = await edge()(`/socket.io/?EIO=4&transport=polling&sid=${sid}`);
      expect(res.status).toBe(400);
      expect((await res.json()).error).toEqual({ code: 'invalid', message: 'unknown session id' });
    }
  });

  it('answers unknown paths with not_found', async () => {
    const res = await edge()('/nope');
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('not_found');
  });
});

describe('/dev/token', () => {
  it('mints a token the region accepts, in the simulation only', async () => {
    const res = await edge()('/dev/token?sub=alice&rooms=chat:*,team:42');
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(await verifyAccessToken(body.token, SECRET)).toMatchObject({
      user: 'alice',
      rooms: ['chat:*', 'team:42'],
    });
    expect((await edge({ SIM: '0' })('/dev/token?sub=alice')).status).toBe(404);
  });

  it('refuses a missing sub or a bad room pattern', async () => {
    expect((await edge()('/dev/token')).status).toBe(400);
    const bad = await edge()('/dev/token?sub=a&rooms=no%20spaces');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('invalid');
  });
});
