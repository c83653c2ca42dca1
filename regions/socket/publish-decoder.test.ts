import fc from 'fast-check';
import { Decoder, Encoder, PacketType, type Packet } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import { DataText, PublishDecoder } from './publish-decoder';

function decodeWith(decoder: Decoder, ...parts: unknown[]): Packet {
  let packet: Packet | undefined;
  decoder.on('decoded', (p: Packet) => (packet = p));
  for (const part of parts) decoder.add(part);
  if (!packet) throw new Error('nothing decoded');
  return packet;
}

/** What socket.io-parser makes of `text`, and what PublishDecoder does, with data as a value. */
function bothWays(text: string): { ours: Packet; theirs: Packet } {
  const theirs = decodeWith(new Decoder(), text);
  const ours = decodeWith(new PublishDecoder(), text);
  return { ours, theirs };
}

function withDataValue(packet: Packet): Packet {
  const [event, payload] = packet.data as [string, Record<string, unknown>];
  const data = payload.data instanceof DataText ? JSON.parse(payload.data.json) : payload.data;
  return { ...packet, data: [event, { ...payload, data }] };
}

/** Any UTF-16 code unit, lone surrogates and U+0000 included. */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

describe('PublishDecoder', () => {
  it('hands a publish over with its data as the text it came in, otherwise the same packet', () => {
    const data = [{}, { a: [1, 'x\n'], __proto__: null }, null];
    const text = `221["publish",{"room":"r","data":${JSON.stringify(data)},"id":"i"}]`;
    const { ours, theirs } = bothWays(text);
    const payload = (ours.data as [string, Record<string, unknown>])[1];
    expect(payload.data).toBeInstanceOf(DataText);
    expect((payload.data as DataText).json).toBe(JSON.stringify(data));
    expect(withDataValue(ours)).toEqual(theirs);
    expect(ours).toMatchObject({ type: PacketType.EVENT, nsp: '/', id: 21 });
  });

  it('decodes every publish socket.io-client sends to what socket.io-parser decodes', () => {
    const encoder = new Encoder();
    const publishText = (data: unknown, ackId: number | null, others: object) => {
      const packet: Packet = { type: PacketType.EVENT, nsp: '/', data: ['publish', { ...others, data }] };
      if (ackId !== null) packet.id = ackId;
      return (encoder.encode(packet) as [string])[0];
    };
    const field = fc.constantFrom('room', 'id', 'ephemeral', 'extra');
    fc.assert(
      fc.property(
        fc.jsonValue({ stringUnit: anyCodeUnit }),
        fc.option(fc.nat()),
        fc.dictionary(field, fc.oneof(fc.string(), fc.boolean(), fc.integer())),
        (data, ackId, others) => {
          const { ours, theirs } = bothWays(publishText(data, ackId, others));
          expect(((ours.data as unknown[])[1] as { data: unknown }).data).toBeInstanceOf(DataText);
          expect(withDataValue(ours)).toEqual(theirs);
        },
      ),
      { numRuns: 1000 },
    );
    // Other fields of any shape: the same packet either way.
    fc.assert(
      fc.property(fc.jsonValue(), fc.dictionary(field, fc.jsonValue({ maxDepth: 2 })), (data, others) => {
        const { ours, theirs } = bothWays(publishText(data, 7, others));
        expect(withDataValue(ours)).toEqual(theirs);
      }),
      { numRuns: 1000 },
    );
  });

  it('carries what the value check says about the data', () => {
    const { ours } = bothWays('2["publish",{"room":"r","data":["\\u0000"]}]');
    expect(((ours.data as unknown[])[1] as { data: DataText }).data.problem).toBe(
      'strings must not contain U+0000',
    );
  });

  it('leaves any other packet, and a publish in another form, to socket.io-parser', () => {
    for (const text of [
      '2["publish", {"room":"r","data":[]}]',
      '2["publish",{"room":"r","data":[1.0]}]',
      '2["publish",{"room":"r","data":{"a":1,"a":2}}]',
      '2["publish",{"room":"r","data":1,"data":2}]',
      '2["publish",{"room":"r"}]',
      '2["publish",{"room":"r","data":1},"more"]',
      '2/other,["publish",{"room":"r","data":1}]',
      '2["join",{"room":"r"}]',
      '35[{"ok":true}]',
    ]) {
      const { ours, theirs } = bothWays(text);
      expect(ours, text).toEqual(theirs);
    }
  });

  it('refuses what socket.io-parser refuses', () => {
    for (const text of [
      '2["publish",{"room":"r","data":[}]',
      '2["publish",{"room":"r","data":1}',
      '2["publish"',
    ]) {
      expect(() => new Decoder().add(text), text).toThrow();
      expect(() => new PublishDecoder().add(text), text).toThrow();
    }
  });

  it('still puts binary packets together', () => {
    const encoder = new Encoder();
    const parts = encoder.encode({
      type: PacketType.EVENT,
      nsp: '/',
      data: ['publish', { room: 'r', data: Buffer.from('x') }],
    });
    const packet = decodeWith(new PublishDecoder(), ...parts);
    expect(((packet.data as unknown[])[1] as { data: Buffer }).data.toString()).toBe('x');
  });
});
