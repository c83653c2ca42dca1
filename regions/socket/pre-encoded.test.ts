import { Decoder, Encoder, PacketType, type Packet } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import { PreEncodedJson, preEncodedBroadcast, preEncodedParser } from './transport';

const encoder = new preEncodedParser.Encoder();

/** What a socket.io-client receives from `encoded`: the packet its decoder rebuilds. */
function decode(encoded: unknown[]): Packet {
  const decoder = new Decoder();
  let packet: Packet | undefined;
  decoder.on('decoded', (p: Packet) => (packet = p));
  for (const part of encoded) decoder.add(part as string);
  if (!packet) throw new Error('nothing decoded');
  return packet;
}

describe('preEncodedParser', () => {
  it('puts a pre-encoded answer into an ack as the very text it was given', () => {
    // Stored text may have spaces (as published, or jsonb's rendering); re-encoding would drop them.
    const answer = '{"ok":true,"messages":[{"id":"x","data":{"a": 1, "b": [{}, {}]}}]}';
    const [text] = encoder.encode({
      type: PacketType.ACK,
      nsp: '/',
      id: 7,
      data: [new PreEncodedJson(answer)],
    });
    expect(text).toBe(`37[${answer}]`);
    expect(decode([text])).toEqual({
      type: PacketType.ACK,
      nsp: '/',
      id: 7,
      data: [{ ok: true, messages: [{ id: 'x', data: { a: 1, b: [{}, {}] } }] }],
    });
  });

  it('writes what the standard encoder writes for the same value, in any namespace and beside other arguments', () => {
    const value = { ok: true, text: 'é ✓ 👩‍👩‍👧 \u2028 "q" \\', n: [1e21, -0.5, 12345678901234567000] };
    const packets: Packet[] = [
      { type: PacketType.ACK, nsp: '/', id: 0, data: [value] },
      { type: PacketType.ACK, nsp: '/admin', id: 12, data: [value] },
      { type: PacketType.EVENT, nsp: '/', data: ['message', value, undefined] },
      { type: PacketType.EVENT, nsp: '/admin', id: 3, data: ['message', value] },
    ];
    for (const packet of packets) {
      const pre = {
        ...packet,
        data: (packet.data as unknown[]).map((arg) =>
          arg === value ? new PreEncodedJson(JSON.stringify(value)) : arg,
        ),
      };
      expect(encoder.encode(pre)).toEqual(new Encoder().encode(packet));
    }
  });

  it('encodes every other packet as Socket.IO does, binary included', () => {
    const packets: Packet[] = [
      { type: PacketType.CONNECT, nsp: '/', data: { sid: 'abc' } },
      { type: PacketType.EVENT, nsp: '/', data: ['message', { a: 1 }] },
      { type: PacketType.ACK, nsp: '/', id: 1, data: [{ ok: false, error: { code: 'invalid' } }] },
      { type: PacketType.EVENT, nsp: '/', data: ['bytes', Buffer.from([1, 2, 3])] },
    ];
    for (const packet of packets) expect(encoder.encode(packet)).toEqual(new Encoder().encode(packet));
  });

  it('means the same value through a standard encoder, for a server built without this parser', () => {
    const json = '{"ok":true,"missed":[{"data": {"__proto__": 1, "k": null}}]}';
    const [standard] = new Encoder().encode({
      type: PacketType.ACK,
      nsp: '/',
      id: 1,
      data: [new PreEncodedJson(json)],
    });
    expect(decode([standard]).data).toEqual([JSON.parse(json)]);
  });

  it('writes a broadcast envelope from its JSON, also once the argument was copied to another node', () => {
    const envelope = {
      id: 'x',
      room: 'r',
      data: { text: 'é \u2028', n: [1, 2] },
      user: 'u',
      origin: 'us-east',
      ts: 1,
    };
    const standard = new Encoder().encode({ type: PacketType.EVENT, nsp: '/', data: ['message', envelope] });
    const arg = preEncodedBroadcast(JSON.stringify(envelope));
    // The Redis adapter hands the other nodes a copy of plain data (MessagePack): no class survives.
    for (const copy of [arg, structuredClone(arg)]) {
      const encoded = encoder.encode({ type: PacketType.EVENT, nsp: '/', data: ['message', copy] });
      expect(encoded).toEqual(standard);
      expect(decode(encoded).data).toEqual(['message', envelope]);
    }
  });

  it('never takes a real value for a broadcast argument', () => {
    // `data` with U+0000 in a key is refused at publish; any other object is encoded as it is.
    const value = { json: '{"a":1}', '\u0000': 'x' };
    const packet: Packet = { type: PacketType.EVENT, nsp: '/', data: ['message', value] };
    expect(encoder.encode(packet)).toEqual(new Encoder().encode(packet));
  });
});

describe('preEncodedParser.Decoder', () => {
  it('decodes what clients send as Socket.IO does, binary attachments included, and stops when its listener goes', () => {
    const decoder = new preEncodedParser.Decoder();
    const decoded: Packet[] = [];
    const listener = (packet: Packet) => decoded.push(packet);
    decoder.on('decoded', listener);
    decoder.add('2["publish",{"room":"r","data":{"a":[1,"é"]}}]');
    decoder.add('51-3["bytes",{"_placeholder":true,"num":0}]');
    decoder.add(Buffer.from([1, 2, 3]));
    expect(decoded).toEqual([
      { type: PacketType.EVENT, nsp: '/', data: ['publish', { room: 'r', data: { a: [1, 'é'] } }] },
      { type: PacketType.EVENT, nsp: '/', id: 3, data: ['bytes', Buffer.from([1, 2, 3])] },
    ]);
    decoder.destroy();
    decoder.removeListener('decoded', listener);
    decoder.add('2["after"]');
    expect(decoded).toHaveLength(2);
  });
});
