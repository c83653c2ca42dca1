import { describe, expect, it } from 'vitest';
import { newEnvelopeId } from '../../shared';
import {
  MEMORY_SERVER_KEY as SERVER_KEY,
  memoryConfig,
  memoryNode as memoryServices,
} from '../../tests/support/memory-node';
import { tokenFor } from '../../tests/support/tokens';
import { createHttpApp } from './app';

/** The node's HTTP app on memory backends, exercised through `app.request` (no server, no port). */
function memoryNode(options: { ready?: boolean; edgeSecrets?: string[] } = {}) {
  const node = memoryServices({ ...options, config: memoryConfig({ MAX_PAYLOAD_BYTES: '1024' }) });
  const app = createHttpApp(node.http);
  const call = async (path: string, init: RequestInit & { token?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.token) headers.set('authorization', `Bearer ${init.token}`);
    if (init.body) headers.set('content-type', 'application/json');
    const res = await app.request(`http://node${path}`, { ...init, headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return { call, delivered: node.delivered, presenceStore: node.presenceStore, history: node.history };
}

describe('the HTTP app on memory backends', () => {
  it('accepts a publish once (a retry gets the first ack) and delivers it once', async () => {
    const node = memoryNode();
    const token = await tokenFor('alice', ['chat:*']);
    const id = newEnvelopeId();
    const body = JSON.stringify({ data: { text: 'hi' }, id });
    const first = await node.call('/v1/rooms/chat:1/messages', { method: 'POST', body, token });
    expect(first).toEqual({ status: 202, body: { id, ts: expect.any(Number) } });
    expect(await node.call('/v1/rooms/chat:1/messages', { method: 'POST', body, token })).toEqual(first);
    expect(node.delivered).toEqual([
      { id, room: 'chat:1', data: { text: 'hi' }, user: 'alice', origin: 'eu-west', ts: first.body.ts },
    ]);
    const server = await node.call('/v1/rooms/news/messages', {
      method: 'POST',
      body: JSON.stringify({ data: 1 }),
      headers: { 'x-api-key': SERVER_KEY },
    });
    expect(server.status).toBe(202);
    // A delivery goes out a microtask after the publish; the in-process answer can come first.
    await new Promise((resolve) => setImmediate(resolve));
    expect(node.delivered[1]).toMatchObject({ room: 'news', user: 'server' });
  });

  it('pages history by keyset, oldest first, and lists presence', async () => {
    const node = memoryNode();
    const stored = [1, 2, 3].map((n) => ({
      id: newEnvelopeId(),
      room: 'chat:1',
      data: { n },
      user: 'bob',
      origin: 'us-east',
      ts: Date.now() + n,
    }));
    await node.history.insert(stored.map((e) => JSON.stringify(e)));
    await node.presenceStore.add('chat:1', 'bob', { name: 'Bob' });
    const token = await tokenFor('alice', ['chat:*']);
    expect(await node.call('/v1/rooms/chat:1/messages?limit=2', { token })).toEqual({
      status: 200,
      body: { messages: stored.slice(1) },
    });
    expect(await node.call(`/v1/rooms/chat:1/messages?before=${stored[1]!.id}`, { token })).toEqual({
      status: 200,
      body: { messages: [stored[0]] },
    });
    expect(await node.call('/v1/rooms/chat:1/presence', { token })).toEqual({
      status: 200,
      body: { members: [{ user: 'bob', region: 'eu-west', info: { name: 'Bob' } }], count: 1 },
    });
  });

  it('answers every refusal as { error: { code, message } } with its status', async () => {
    const node = memoryNode({ edgeSecrets: ['edge-secret'] });
    const edge = { 'x-edge-secret': 'edge-secret' };
    const token = await tokenFor('alice', ['chat:*']);
    const refusal = (status: number, code: string) => ({
      status,
      body: { error: { code, message: expect.any(String) } },
    });
    expect(await node.call('/v1/rooms/chat:1/presence', { token })).toEqual(refusal(401, 'unauthorized'));
    expect(await node.call('/v1/rooms/chat:1/presence', { headers: edge })).toEqual(
      refusal(401, 'unauthorized'),
    );
    const revoked = await tokenFor('revoked', ['*']);
    expect(await node.call('/v1/rooms/chat:1/presence', { headers: edge, token: revoked })).toEqual(
      refusal(401, 'unauthorized'),
    );
    expect(await node.call('/v1/rooms/team:1/presence', { headers: edge, token })).toEqual(
      refusal(403, 'forbidden'),
    );
    expect(await node.call('/v1/rooms/chat:1/messages?limit=0x10', { headers: edge, token })).toEqual(
      refusal(400, 'invalid'),
    );
    const post = (body: string) =>
      node.call('/v1/rooms/chat:1/messages', { method: 'POST', headers: edge, token, body });
    expect(await post('{not json')).toEqual(refusal(400, 'invalid'));
    expect(await post(JSON.stringify({ data: 'x'.repeat(2_000) }))).toEqual(refusal(413, 'too_large'));
    expect(await node.call('/v1/nothing', { headers: edge, token })).toEqual(refusal(404, 'not_found'));
    expect(node.delivered).toEqual([]);
  });

  it('answers health always and readiness by its checks, without the edge secret', async () => {
    const node = memoryNode({ ready: false, edgeSecrets: ['edge-secret'] });
    expect(await node.call('/healthz')).toEqual({
      status: 200,
      body: { status: 'ok', region: 'eu-west', node: 'eu-west-1' },
    });
    expect(await node.call('/readyz')).toEqual({
      status: 503,
      body: { status: 'not_ready', region: 'eu-west', node: 'eu-west-1', checks: { redis: 'down' } },
    });
  });
});
