import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeApp } from '../../edge/app';
import type { EdgeBindings } from '../../edge/config';
import { REGIONS, member, startThreeRegions, type RegionId, type ThreeRegions } from '../bus/three-regions';
import {
  closeAllClients,
  connectClient,
  eventually,
  handshakeError,
  type TestClient,
} from '../support/clients';
import { TEST_JWT_SECRET, tokenFor } from '../support/tokens';

const KEY = 'server-api-key-for-tests-0123456789abcdef';
const OTHER_KEY = 'another-key-nobody-configured-0123456789';

let cluster: ThreeRegions;
const nodeUrl = (region: RegionId, index = 0) => cluster.regions[region].nodes[index]!.url;

beforeAll(async () => {
  cluster = await startThreeRegions({ SERVER_API_KEYS: KEY });
});
afterAll(() => cluster?.stop());
afterEach(() => closeAllClients());

async function call(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = { 'x-api-key': KEY },
) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Clients of `user` in `room` on every node of every region. */
async function everywhere(user: string, room: string, token?: string): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  for (const region of REGIONS) {
    for (const node of cluster.regions[region].nodes) {
      const client = await connectClient(node.url, token ?? (await tokenFor(user)));
      const ack = await client.emitWithAck('join', { room });
      if (!ack.ok) throw new Error(ack.error.message);
      clients.push(client);
    }
  }
  return clients;
}

describe('the server API on region nodes', () => {
  it('refuses a missing or wrong key, and a user token, with 401 unauthorized', async () => {
    const userToken = await tokenFor('mallory', ['*']);
    const attempts = [
      ['/v1/broadcast', { rooms: ['a'], data: 1 }, {}],
      ['/v1/broadcast', { rooms: ['a'], data: 1 }, { 'x-api-key': OTHER_KEY }],
      ['/v1/broadcast', { rooms: ['a'], data: 1 }, { authorization: `Bearer ${userToken}` }],
      ['/v1/users/bob/disconnect', {}, {}],
      ['/v1/users/bob/disconnect', {}, { 'x-api-key': KEY.slice(0, -1) }],
      ['/v1/users/bob/disconnect', { revoke: true }, { authorization: `Bearer ${userToken}` }],
      ['/v1/rooms/lobby/messages', { data: 1, user: 'ceo' }, { 'x-api-key': OTHER_KEY }],
    ] as const;
    for (const [path, body, headers] of attempts) {
      const res = await call(nodeUrl('eu-west'), path, body, headers);
      expect(res, `${path} with ${JSON.stringify(headers)}`).toMatchObject({
        status: 401,
        body: { error: { code: 'unauthorized' } },
      });
    }
    // A user token publishes as that user, within its grants: `user` is not a field it may set.
    const limited = await tokenFor('mallory', ['own:*']);
    const asUser = await call(
      nodeUrl('eu-west'),
      '/v1/rooms/lobby/messages',
      { data: 1 },
      {
        authorization: `Bearer ${limited}`,
      },
    );
    expect(asUser.status).toBe(403);
    const impersonating = await call(
      nodeUrl('eu-west'),
      '/v1/rooms/own:x/messages',
      { data: 1, user: 'ceo' },
      {
        authorization: `Bearer ${limited}`,
      },
    );
    expect(impersonating.status).toBe(400);
  });

  it('publishes as the server to a room no token granted, delivered in every region', async () => {
    const readers = await Promise.all(REGIONS.map((r) => member(cluster, r, 1, `reader-${r}`, 'announce:1')));
    const named = await call(nodeUrl('us-east'), '/v1/rooms/announce:1/messages', {
      data: { v: 1 },
      user: 'billing',
    });
    const plain = await call(nodeUrl('us-east'), '/v1/rooms/announce:1/messages', { data: { v: 2 } });
    expect(named).toMatchObject({ status: 202, body: { id: expect.any(String), ts: expect.any(Number) } });
    expect(plain.status).toBe(202);
    const live = await call(nodeUrl('us-east'), '/v1/rooms/announce:1/messages', {
      data: { typing: true },
      ephemeral: true,
    });
    expect(live.status).toBe(202);
    for (const reader of readers) {
      await eventually(() => reader.received.length === 3, 'the server messages in every region', 20_000);
      expect(reader.received.map((e) => [e.id, e.user, e.data, e.ephemeral ?? false])).toEqual([
        [named.body.id, 'billing', { v: 1 }, false],
        [plain.body.id, 'server', { v: 2 }, false],
        [live.body.id, 'server', { typing: true }, true],
      ]);
    }
  });

  it('broadcasts one message to many rooms and answers each room id and ts', async () => {
    const rooms = ['bc:a', 'bc:b', 'bc:c'];
    const readers = await Promise.all(rooms.map((room, i) => member(cluster, REGIONS[i]!, 0, 'r', room)));
    const res = await call(nodeUrl('ap-southeast'), '/v1/broadcast', {
      rooms: [...rooms, 'bc:a'],
      data: 'hi',
    });
    expect(res.status).toBe(202);
    const messages = res.body.messages as { room: string; id: string; ts: number }[];
    expect(messages.map((m) => m.room)).toEqual(rooms);
    for (const [i, reader] of readers.entries()) {
      await eventually(() => reader.received.length === 1, `the broadcast in ${rooms[i]}`, 20_000);
      expect(reader.received[0]).toMatchObject({
        id: messages[i]!.id,
        room: rooms[i],
        data: 'hi',
        user: 'server',
      });
    }
    const tooMany = await call(nodeUrl('eu-west'), '/v1/broadcast', {
      rooms: Array.from({ length: 101 }, (_, i) => `r${i}`),
      data: 1,
    });
    expect(tooMany).toMatchObject({ status: 400, body: { error: { code: 'invalid' } } });
    const none = await call(nodeUrl('eu-west'), '/v1/broadcast', { rooms: [], data: 1 });
    expect(none.status).toBe(400);
  });

  it('disconnects every socket of a user in every region, telling each why', async () => {
    const dora = await everywhere('dora', 'lobby');
    const bystander = await member(cluster, 'eu-west', 0, 'bob', 'lobby');
    const told: string[] = [];
    const closed: string[] = [];
    for (const socket of dora) {
      socket.on('disconnected', ({ reason }) => told.push(reason));
      socket.on('disconnect', (why) => closed.push(why));
    }
    const started = Date.now();
    const res = await call(nodeUrl('eu-west', 1), '/v1/users/dora/disconnect', { reason: 'account closed' });
    expect(res).toEqual({ status: 202, body: { ok: true } });
    await eventually(() => closed.length === dora.length, 'every socket of dora closed');
    const tookMs = Date.now() - started;
    expect(told).toEqual(dora.map(() => 'account closed'));
    expect(closed).toEqual(dora.map(() => 'io server disconnect'));
    expect(bystander.connected).toBe(true);
    console.info(`disconnect of ${dora.length} sockets in 3 regions took ${tookMs} ms`);

    // Without revoke, the same token connects again.
    await connectClient(nodeUrl('ap-southeast'), await tokenFor('dora'));
  });

  it('with revoke, refuses the tokens issued before the call, at handshake and over HTTP, in every region', async () => {
    const oldToken = await tokenFor('eve');
    const eve = await everywhere('eve', 'lobby', oldToken);
    const res = await call(nodeUrl('us-east'), '/v1/users/eve/disconnect', { revoke: true });
    expect(res.status).toBe(202);
    await eventually(() => eve.every((s) => !s.connected), 'every socket of eve closed');
    for (const region of REGIONS) {
      await eventually(
        async () => (await handshakeError(nodeUrl(region, 1), { token: oldToken })) === 'unauthorized',
        `the old token refused in ${region}`,
      );
    }
    const http = await fetch(`${nodeUrl('eu-west')}/v1/rooms/lobby/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${oldToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ data: 1 }),
    });
    expect(http.status).toBe(401);
    // `iat` counts whole seconds: a token issued from the next second on is accepted.
    await new Promise((r) => setTimeout(r, 1_100));
    const fresh = await tokenFor('eve');
    for (const region of REGIONS) await connectClient(nodeUrl(region, 0), fresh);
  });
});

describe('the server API through the edge', () => {
  function edge(bindings: Partial<EdgeBindings> = {}) {
    const app = createEdgeApp({
      readHealth: async () => ({ source: 'static', reason: 'test', entries: [], readAt: 0 }),
    });
    const regions = JSON.stringify([{ id: 'eu-west', url: nodeUrl('eu-west'), lat: 53.3, lon: -6.3 }]);
    const env: EdgeBindings = {
      REGIONS: regions,
      JWT_SECRET: TEST_JWT_SECRET,
      SERVER_API_KEYS: KEY,
      ...bindings,
    };
    return (path: string, headers: Record<string, string>, body: unknown) =>
      app.request(
        `http://edge.test${path}`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        },
        env,
      );
  }

  it('refuses a wrong or missing key at the edge, before any region', async () => {
    for (const headers of [{}, { 'x-api-key': OTHER_KEY }] as Record<string, string>[]) {
      const res = await edge()('/v1/broadcast', headers, { rooms: ['a'], data: 1 });
      expect(res.status).toBe(401);
      expect(res.headers.get('x-edge-region')).toBeNull();
    }
    const unconfigured = await edge({ SERVER_API_KEYS: '' })(
      '/v1/users/x/disconnect',
      { 'x-api-key': KEY },
      {},
    );
    expect(unconfigured.status).toBe(401);
    const short = await edge({ SERVER_API_KEYS: 'short' })('/v1/broadcast', { 'x-api-key': 'short' }, {});
    expect(short.status).toBe(500);
    expect(((await short.json()) as { error: { message: string } }).error.message).toContain(
      'SERVER_API_KEYS',
    );
  });

  it('passes a keyed call to the region, which publishes and disconnects', async () => {
    const reader = await member(cluster, 'eu-west', 1, 'reader', 'edge:news');
    const published = await edge()(
      '/v1/rooms/edge:news/messages',
      { 'x-api-key': KEY },
      { data: 'via edge' },
    );
    expect(published.status).toBe(202);
    expect(published.headers.get('x-edge-region')).toBe('eu-west');
    await eventually(() => reader.received.length === 1, 'the message published through the edge');

    const socket = await connectClient(nodeUrl('ap-southeast'), await tokenFor('frank'));
    const gone = new Promise<string>((resolve) =>
      socket.once('disconnected', ({ reason }) => resolve(reason)),
    );
    const res = await edge()('/v1/users/frank/disconnect', { 'x-api-key': KEY }, { reason: 'bye' });
    expect(res.status).toBe(202);
    expect(await gone).toBe('bye');
  });
});
