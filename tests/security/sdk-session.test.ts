import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../../shared';
import { RealtimeClient } from '../../shared/sdk/index';
import { connectClient, eventually, sleep } from '../support/clients';
import type { RegionProcess } from '../support/region-process';
import { tokenFor } from '../support/tokens';
import { startHistoryStack, type HistoryStack } from '../history/support/stack';

let stack: HistoryStack;
let node: RegionProcess;
const clients: RealtimeClient[] = [];

beforeAll(async () => {
  stack = await startHistoryStack({ replicas: 0 });
  node = (await stack.startRegion('eu-west', 1, { MAX_ANSWER_BYTES: '20000' }))[0]!;
}, 120_000);
afterAll(async () => {
  for (const c of clients) c.close();
  await stack?.stop();
});

/** Envelopes of `room` in history, paged back from the newest (each page is bounded in bytes). */
async function storedCount(room: string, token: string): Promise<number> {
  let count = 0;
  let before = '';
  for (;;) {
    const res = await fetch(`${node.url}/v1/rooms/${room}/messages?limit=100${before}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!res.ok) return count;
    const { messages } = (await res.json()) as { messages: Envelope[] };
    if (messages.length === 0) return count;
    count += messages.length;
    before = `&before=${messages[0]!.id}`;
  }
}

function sdk(token: () => Promise<string>): RealtimeClient {
  const client = new RealtimeClient({ url: node.url, token });
  clients.push(client);
  return client;
}

describe('the SDK keeps a session alive across token expiry and answer limits', () => {
  it('refreshes a short token with auth before exp, without reconnecting', async () => {
    let issued = 0;
    const client = sdk(async () => {
      issued++;
      return tokenFor('refresher', ['*'], { expiresIn: Math.floor(Date.now() / 1000) + 3 });
    });
    const disconnects: string[] = [];
    client.on('disconnected', (reason) => disconnects.push(reason));
    await eventually(() => client.connected, 'the SDK connected');
    await client.join('fresh');
    await sleep(6_000);
    expect(disconnects).toEqual([]);
    expect(issued).toBeGreaterThanOrEqual(3);
    const sender = await connectClient(node.url, await tokenFor('sender'));
    const received: Envelope[] = [];
    client.on('message', (e) => received.push(e));
    await sender.emitWithAck('publish', { room: 'fresh', data: 'still here' });
    await eventually(() => received.length === 1, 'a message after two refreshes');
  });

  it('fills a rejoin that missed more than one answer holds by paging history (recovered: false)', async () => {
    let gate: Promise<void> = Promise.resolve();
    let release = () => {};
    const client = sdk(async () => {
      await gate;
      return tokenFor('gappy');
    });
    const received: Envelope[] = [];
    client.on('message', (e) => received.push(e));
    const rejoined: { recovered: boolean; missed: number }[] = [];
    client.on('rejoined', (info) => rejoined.push(info));
    await eventually(() => client.connected, 'the SDK connected');
    await client.join('gap');
    const sender = await connectClient(node.url, await tokenFor('sender'));
    await sender.emitWithAck('publish', { room: 'gap', data: 'first' });
    await eventually(() => received.length === 1, 'the first message');

    // Cut the connection and hold the reconnect until 30 messages of 4 KB are stored.
    gate = new Promise((resolve) => (release = resolve));
    (client as unknown as { socket: { io: { engine: { close(): void } } } }).socket.io.engine.close();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const ack = await sender.emitWithAck('publish', { room: 'gap', data: `${i}:${'x'.repeat(4_000)}` });
      if (ack.ok) ids.push(ack.id);
    }
    const token = await tokenFor('reader');
    await eventually(async () => (await storedCount('gap', token)) === 31, 'all messages in history', 20_000);
    release();

    await eventually(() => rejoined.length === 1, 'the rejoin', 15_000);
    expect(received.map((e) => e.id)).toEqual([received[0]!.id, ...ids]);
    expect(rejoined[0]).toMatchObject({ recovered: true, missed: 30 });
  }, 60_000);
});
