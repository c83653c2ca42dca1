import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../shared';
import { closeAllClients, connectClient, eventually, type TestClient } from '../support/clients';
import { startTestRegion, type TestRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';
import { connectRaw, type RawClient } from './raw-client';

let region: TestRegion;
let url: string;
const raws: RawClient[] = [];

beforeAll(async () => {
  region = await startTestRegion({ region: 'eu-west', nodes: 1 });
  url = region.nodes[0]!.url;
});
afterAll(() => region?.stop());
afterEach(() => {
  closeAllClients();
  for (const raw of raws.splice(0)) raw.close();
});

async function pair(room: string): Promise<{ sender: TestClient; member: TestClient }> {
  const sender = await connectClient(url, await tokenFor('sender'));
  const member = await connectClient(url, await tokenFor('member'));
  expect(await member.emitWithAck('join', { room })).toMatchObject({ ok: true });
  return { sender, member };
}

async function raw(user: string): Promise<RawClient> {
  const client = await connectRaw(url, await tokenFor(user));
  raws.push(client);
  return client;
}

describe('publish payloads: stored and delivered exactly as sent, or refused', () => {
  it('delivers null, __proto__ keys and nested values unchanged', async () => {
    const { sender, member } = await pair('exact');
    const values = [
      null,
      JSON.parse('{"__proto__":{"admin":true},"constructor":{"prototype":1}}'),
      { a: [1, 'two', { three: [null, false, 1.5e300] }] },
      '',
    ];
    for (const data of values) {
      expect(await sender.emitWithAck('publish', { room: 'exact', data })).toMatchObject({ ok: true });
    }
    await eventually(() => member.received.length === values.length, 'every value delivered');
    expect(member.received.map((e) => e.data)).toEqual(values);
    const proto = member.received[1]!.data as Record<string, unknown>;
    expect(Object.keys(proto)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
  });

  it.each([
    ['a string with U+0000', 'nul\u0000here', 'strings must not contain U+0000'],
    ['a key with U+0000', { 'k\u0000': 1 }, 'key: strings must not contain U+0000'],
    ['a lone surrogate', 'x\ud800y', 'lone surrogates'],
    ['nesting deeper than 32', nest(33), 'nested deeper than 32 levels'],
  ])('refuses %s with invalid, and delivers nothing', async (_what, data, message) => {
    const { sender, member } = await pair('refused');
    const ack = await sender.emitWithAck('publish', { room: 'refused', data: data as never });
    expect(ack).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect((ack as { error: { message: string } }).error.message).toContain(message);
    expect(await sender.emitWithAck('publish', { room: 'refused', data: 'after' })).toMatchObject({
      ok: true,
    });
    await eventually(() => member.received.length > 0, 'the next message');
    expect(member.received.map((e) => e.data)).toEqual(['after']);
  });

  it('accepts nesting of exactly 32 levels', async () => {
    const { sender } = await pair('deep');
    expect(await sender.emitWithAck('publish', { room: 'deep', data: nest(32) })).toMatchObject({ ok: true });
  });

  it('refuses a number JSON cannot carry back (1e400) with invalid', async () => {
    const client = await raw('numbers');
    expect(await client.emitRaw('publish', '{"room":"n","data":[1e400]}')).toMatchObject({
      ok: false,
      error: { code: 'invalid', message: 'data: numbers must be finite' },
    });
  });

  it('refuses data over MAX_PAYLOAD_BYTES with too_large, and closes a connection sending a packet far over it', async () => {
    const { member } = await pair('big');
    const hostile = await raw('hostile');
    const overLimit = JSON.stringify('x'.repeat(64 * 1024));
    expect(await hostile.emitRaw('publish', `{"room":"big","data":${overLimit}}`)).toMatchObject({
      ok: false,
      error: { code: 'too_large' },
    });
    expect(hostile.isOpen()).toBe(true);

    // Nearly a megabyte (under Socket.IO's default 1 MB buffer) of `[{},{},...]`: refused by Socket.IO before any parse or validation.
    const huge = `[${Array.from({ length: 300_000 }, () => '{}').join(',')}]`;
    hostile.sendPacket(`2["publish",{"room":"big","data":${huge}}]`);
    await hostile.closed;

    const polite = await connectClient(url, await tokenFor('polite'));
    expect(await polite.emitWithAck('publish', { room: 'big', data: 'still here' })).toMatchObject({
      ok: true,
    });
    await eventually(() => member.received.some((e) => e.data === 'still here'), 'the polite message');
  });
});

function nest(depth: number): JsonValue {
  let value: JsonValue = 'leaf';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { v: value };
  return value;
}
