import { createServer } from 'node:http';
import { Server } from 'socket.io';
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { newEnvelopeId, type Envelope, type PresenceEvent } from '../../shared';
import {
  closeAllClients,
  connectClient,
  eventually,
  sleep,
  type TestClient,
} from '../../tests/support/clients';
import { MEMORY_REGION, memoryConfig, memoryNode } from '../../tests/support/memory-node';
import { tokenFor } from '../../tests/support/tokens';
import type { RegionIo } from '../publish';
import { FrontEnd } from './front-end';
import { preEncodedParser } from './transport';

const ACK_TIMEOUT_MS = 5_000;
const MAX_PAYLOAD_BYTES = 1024;

const running: FrontEnd[] = [];

afterEach(async () => {
  closeAllClients();
  await Promise.all(running.splice(0).map((frontEnd) => frontEnd.stop()));
});

/**
 * The node's front end (handshake, `socketHandlers`, session expiry) on the memory backends, with a
 * real Socket.IO server on an ephemeral 127.0.0.1 port and the node's packet parser. No Redis: the
 * room fan-out is Socket.IO's in-memory adapter, as on a region of one node.
 */
async function startNode(env: Record<string, string> = {}) {
  const config = memoryConfig({ MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES), ...env });
  const httpServer = createServer();
  const io: RegionIo = new Server(httpServer, { parser: preEncodedParser });
  const node = memoryNode({ config, io });
  const frontEnd = new FrontEnd({
    config,
    io,
    httpServer,
    http: node.http,
    services: node.services,
    verifyToken: node.verifyToken,
    userLimits: node.userLimits,
    revocations: node.services.users,
    metrics: node.deps.metrics,
    isDraining: () => false,
    log: node.deps.log,
  });
  await frontEnd.start();
  running.push(frontEnd);
  const url = `http://127.0.0.1:${frontEnd.port}`;
  const connect = async (user: string, rooms = ['chat:*']) => connectClient(url, await tokenFor(user, rooms));
  return { ...node, url, connect };
}

/** An acknowledged event as the client sees its answer. */
interface AckBody {
  ok: boolean;
  [field: string]: unknown;
}

function ask(client: TestClient, event: string, ...args: unknown[]): Promise<AckBody> {
  const untyped = client as unknown as Socket;
  return untyped.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args) as Promise<AckBody>;
}

function refusal(code: string): AckBody {
  return { ok: false, error: { code, message: expect.any(String) } };
}

function presenceEvents(client: TestClient): PresenceEvent[] {
  const events: PresenceEvent[] = [];
  client.on('presence', (event) => events.push(event));
  return events;
}

/** Publishes through the socket; returns the envelope the room's members receive. */
async function publish(client: TestClient, user: string, room: string, data: unknown): Promise<Envelope> {
  const ack = await ask(client, 'publish', { room, data });
  expect(ack).toEqual({ ok: true, id: expect.any(String), ts: expect.any(Number) });
  return { id: ack.id, room, data, user, origin: MEMORY_REGION, ts: ack.ts } as Envelope;
}

describe('the socket handlers on memory backends', () => {
  it('joins and leaves rooms, announces and lists presence', async () => {
    const node = await startNode({ PRESENCE_LEAVE_GRACE_MS: '1' });
    const alice = await node.connect('alice');
    const bob = await node.connect('bob', ['*']);
    const seenByAlice = presenceEvents(alice);
    const seenByBob = presenceEvents(bob);

    expect(await ask(alice, 'join', { room: 'chat:1' })).toEqual({
      ok: true,
      room: 'chat:1',
      missed: [],
      recovered: true,
    });
    expect(await ask(alice, 'join', { room: 'team:1' })).toEqual(refusal('forbidden'));
    // A socket's own room (named by its id) is no room to join, even with a grant of every room.
    expect(await ask(bob, 'join', { room: alice.id })).toEqual(refusal('forbidden'));
    expect(await ask(bob, 'join', { room: 'chat:1' })).toMatchObject({ ok: true, recovered: true });
    expect(await ask(bob, 'join', { room: 'chat:2' })).toMatchObject({ ok: true });

    await eventually(() => seenByAlice.length === 1, 'alice to see bob join');
    expect(seenByAlice).toEqual([{ room: 'chat:1', user: 'bob', region: MEMORY_REGION, state: 'join' }]);
    expect(seenByBob).toEqual([]); // the joiner is not told of itself
    const listed = await ask(alice, 'presence', { room: 'chat:1' });
    expect(listed).toEqual({
      ok: true,
      members: [
        { user: 'alice', region: MEMORY_REGION },
        { user: 'bob', region: MEMORY_REGION },
      ],
      count: 2,
    });
    expect(await ask(alice, 'presence', { room: 'team:1' })).toEqual(refusal('forbidden'));

    expect(await ask(bob, 'leave', { room: 'chat:1' })).toEqual({ ok: true });
    // After bob's leave grace, the node's presence sweep announces it to the room.
    await sleep(5);
    await node.services.presence.sweep();
    await eventually(() => seenByAlice.length === 2, 'alice to see bob leave');
    expect(seenByAlice[1]).toEqual({ room: 'chat:1', user: 'bob', region: MEMORY_REGION, state: 'leave' });
    expect(await ask(alice, 'presence', { room: 'chat:1' })).toEqual({
      ok: true,
      members: [{ user: 'alice', region: MEMORY_REGION }],
      count: 1,
    });

    // Bob left chat:1 only: what alice sends there no longer reaches him, chat:2 still does.
    await publish(alice, 'alice', 'chat:1', { to: 'chat:1' });
    const second = await publish(alice, 'alice', 'chat:2', { to: 'chat:2' });
    await eventually(() => bob.received.length >= 1, 'bob to receive chat:2');
    expect(bob.received).toEqual([second]);
  });

  it('delivers a publish once to the other members; a retry with its id gets the first ack', async () => {
    const node = await startNode();
    const alice = await node.connect('alice');
    const bob = await node.connect('bob');
    await ask(alice, 'join', { room: 'chat:1' });
    await ask(bob, 'join', { room: 'chat:1' });

    const id = newEnvelopeId();
    const first = await ask(alice, 'publish', { room: 'chat:1', data: { text: 'hi' }, id });
    expect(first).toEqual({ ok: true, id, ts: expect.any(Number) });
    // The client lost the ack and sends the same publish again.
    expect(await ask(alice, 'publish', { room: 'chat:1', data: { text: 'hi' }, id })).toEqual(first);
    const next = await publish(alice, 'alice', 'chat:1', { text: 'next' });

    await eventually(() => bob.received.length >= 2, 'bob to receive both');
    const hi = {
      id,
      room: 'chat:1',
      data: { text: 'hi' },
      user: 'alice',
      origin: MEMORY_REGION,
      ts: first.ts,
    };
    expect(bob.received).toEqual([hi, next]);
    expect(alice.received).toEqual([]); // the publisher does not get its own envelopes
    expect(node.delivered.map((e) => e.id)).toEqual([id, next.id]);
  });

  it('refuses forbidden, too large and invalid publishes and unknown events, delivering none', async () => {
    const node = await startNode();
    const alice = await node.connect('alice');
    const bob = await node.connect('bob', ['*']);
    await ask(alice, 'join', { room: 'chat:1' });
    await ask(bob, 'join', { room: 'chat:1' });
    await ask(bob, 'join', { room: 'team:1' });

    expect(await ask(alice, 'publish', { room: 'team:1', data: 'x' })).toEqual(refusal('forbidden'));
    const tooLarge = { room: 'chat:1', data: 'x'.repeat(MAX_PAYLOAD_BYTES + 1) };
    expect(await ask(alice, 'publish', tooLarge)).toEqual(refusal('too_large'));
    expect(await ask(alice, 'publish', { room: 'chat:1' })).toEqual(refusal('invalid'));
    expect(await ask(alice, 'publish', { room: 'chat:1', data: 1, extra: true })).toEqual(refusal('invalid'));
    expect(await ask(alice, 'publish', { room: 'chat:1', data: 1, id: 'not-a-uuid' })).toEqual(
      refusal('invalid'),
    );
    expect(await ask(alice, 'publish', 'chat:1')).toEqual(refusal('invalid'));
    expect(await ask(alice, 'frobnicate', { room: 'chat:1' })).toEqual({
      ok: false,
      error: { code: 'invalid', message: 'unknown event' },
    });

    const accepted = await publish(alice, 'alice', 'chat:1', { n: 1 });
    await eventually(() => bob.received.length >= 1, 'bob to receive the accepted publish');
    expect(bob.received).toEqual([accepted]);
    expect(node.delivered).toEqual([accepted]);
    expect(alice.connected).toBe(true); // refusals are answers, not disconnects
  });

  it('pages history oldest first, backwards from the oldest envelope received', async () => {
    const node = await startNode();
    const alice = await node.connect('alice');
    await ask(alice, 'join', { room: 'chat:1' });
    const published: Envelope[] = [];
    for (let n = 1; n <= 3; n++) published.push(await publish(alice, 'alice', 'chat:1', { n }));
    // What the history writer stores of the publish log's outbox: here, what was delivered.
    await node.history.insert(node.delivered.map((envelope) => JSON.stringify(envelope)));

    expect(await ask(alice, 'history', { room: 'chat:1', limit: 2 })).toEqual({
      ok: true,
      messages: published.slice(1),
    });
    expect(await ask(alice, 'history', { room: 'chat:1', before: published[1]!.id })).toEqual({
      ok: true,
      messages: [published[0]],
    });
    expect(await ask(alice, 'history', { room: 'chat:1', before: published[0]!.id })).toEqual({
      ok: true,
      messages: [],
    });
    expect(await ask(alice, 'history', { room: 'team:1' })).toEqual(refusal('forbidden'));
    expect(await ask(alice, 'history', { room: 'chat:1', limit: 0 })).toEqual(refusal('invalid'));
  });

  it('answers join { since } with what was missed, recovered when that is all of it', async () => {
    const node = await startNode();
    const alice = await node.connect('alice');
    let carol = await node.connect('carol');
    await ask(carol, 'join', { room: 'chat:1' });
    const seen = await publish(alice, 'alice', 'chat:1', { n: 1 });
    await eventually(() => carol.received.length === 1, 'carol to receive the first');
    carol.close();

    const missed = [await publish(alice, 'alice', 'chat:1', { n: 2 })];
    const ephemeral = await ask(alice, 'publish', {
      room: 'chat:1',
      data: { typing: true },
      ephemeral: true,
    });
    expect(ephemeral).toMatchObject({ ok: true });
    missed.push(await publish(alice, 'alice', 'chat:1', { n: 3 }));

    carol = await node.connect('carol');
    // Ephemeral envelopes are delivered live only, never recovered.
    expect(await ask(carol, 'join', { room: 'chat:1', since: seen.id })).toEqual({
      ok: true,
      room: 'chat:1',
      missed,
      recovered: true,
    });
    // Back in the room: live delivery resumes.
    const live = await publish(alice, 'alice', 'chat:1', { n: 4 });
    await eventually(() => carol.received.length === 1, 'carol to receive live again');
    expect(carol.received).toEqual([live]);
  });

  it('answers join { since } not recovered when more was missed than one answer holds', async () => {
    const node = await startNode({ RECOVERY_LIMIT: '2' });
    const alice = await node.connect('alice');
    await ask(alice, 'join', { room: 'chat:1' });
    const published: Envelope[] = [];
    for (let n = 1; n <= 4; n++) published.push(await publish(alice, 'alice', 'chat:1', { n }));

    const carol = await node.connect('carol');
    // Three were missed after the first; the answer holds the newest two and says it is not all.
    expect(await ask(carol, 'join', { room: 'chat:1', since: published[0]!.id })).toEqual({
      ok: true,
      room: 'chat:1',
      missed: published.slice(2),
      recovered: false,
    });
    // The client pages the rest from the oldest it got (history is where the writer put them).
    await node.history.insert(node.delivered.map((envelope) => JSON.stringify(envelope)));
    expect(await ask(carol, 'history', { room: 'chat:1', before: published[2]!.id, limit: 1 })).toEqual({
      ok: true,
      messages: [published[1]],
    });
  });
});
