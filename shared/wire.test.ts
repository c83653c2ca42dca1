import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newEnvelopeId, type Envelope } from './envelope';
import {
  decodeAckRecord,
  decodeEntry,
  decodeEntryText,
  decodeHeartbeat,
  encodeAckRecord,
  encodeEnvelope,
  encodeHeartbeat,
  entryFields,
  entryIsEphemeral,
  envelopeHead,
  type NodeHeartbeat,
} from './wire';

const envelope: Envelope = {
  id: newEnvelopeId(),
  room: 'r',
  data: { n: [1, 'two'] },
  user: 'u',
  origin: 'eu-west',
  ts: 1,
};

describe('wire records', () => {
  it('round-trips an outbox/bus entry, keeping the JSON as written and the ephemeral mark', () => {
    const encoded = encodeEnvelope(envelope);
    const decoded = decodeEntry(entryFields(encoded));
    expect(decoded).toEqual(encoded);
    expect(entryIsEphemeral(entryFields(encoded))).toBe(false);
    const live = encodeEnvelope({ ...envelope, ephemeral: true });
    expect(entryIsEphemeral(entryFields(live))).toBe(true);
    expect(decodeEntry(entryFields(live))?.envelope.ephemeral).toBe(true);
  });

  it('reads entries written before versions existed, and skips versions it does not know', () => {
    const json = JSON.stringify(envelope);
    expect(decodeEntry(['e', json])?.envelope).toEqual(envelope);
    expect(decodeEntry(['e', json, 'v', '2'])).toBeUndefined();
    expect(decodeEntry(['e', '{"id":"nope"}'])).toBeUndefined();
    expect(decodeEntry(['e', 'not json'])).toBeUndefined();
  });

  it('round-trips the ack record and the heartbeat, and refuses other versions or shapes', () => {
    const record = { id: envelope.id, ts: 5, room: 'r', user: 'u' };
    expect(decodeAckRecord(encodeAckRecord(record))).toEqual(record);
    expect(decodeAckRecord(JSON.stringify({ ...record, v: 2 }))).toBeUndefined();
    const heartbeat: NodeHeartbeat = {
      region: 'eu-west',
      node: 'n1',
      url: 'http://x',
      connections: 3,
      capacity: 10,
      load: 0.5,
      draining: false,
      expiresAt: 9,
    };
    expect(decodeHeartbeat(encodeHeartbeat(heartbeat))).toEqual(heartbeat);
    expect(decodeHeartbeat(JSON.parse(encodeHeartbeat(heartbeat)))).toEqual(heartbeat);
    expect(decodeHeartbeat(JSON.stringify(heartbeat))).toEqual(heartbeat);
    expect(decodeHeartbeat(JSON.stringify({ ...heartbeat, v: 2 }))).toBeUndefined();
    expect(decodeHeartbeat(JSON.stringify({ ...heartbeat, capacity: 0 }))).toBeUndefined();
    expect(decodeHeartbeat('x')).toBeUndefined();
  });
});

describe('encodeEnvelope', () => {
  it('gives the same JSON with the data already encoded as without', () => {
    for (const e of [
      envelope,
      { ...envelope, ephemeral: true as const },
      { ...envelope, room: 'a"b', user: 'ü\u2028', data: 'x\u0000y' },
      { ...envelope, data: [{ a: null }, -1.5e300, '😀'] },
    ]) {
      expect(encodeEnvelope(e, JSON.stringify(e.data)).json).toBe(JSON.stringify(e));
    }
  });
});

describe('envelopeHead', () => {
  const headOf = ({ data: _data, ...head }: Envelope) => head;

  it('reads the fields besides data from the JSON alone, whatever the data holds', () => {
    const tricky = [
      envelope,
      { ...envelope, ephemeral: true as const },
      { ...envelope, data: { user: 'x', origin: 'y', ts: 5, data: { id: 'z' } } },
      { ...envelope, data: ',"user":"x","origin":"y","ts":5}' },
      { ...envelope, data: [[{}], { '","user":"': '","ts":1}' }] },
      { ...envelope, user: 'a","origin":"b\\', origin: 'ap-southeast', ts: 1_700_000_000_000 },
      { ...envelope, data: null },
    ];
    for (const e of tricky) {
      expect(envelopeHead(JSON.stringify(e))).toEqual(headOf(e));
      expect(envelopeHead(encodeEnvelope(e, JSON.stringify(e.data)).json)).toEqual(headOf(e));
    }
  });

  it('holds for any envelope the encoder writes', () => {
    fc.assert(
      fc.property(
        fc.record({
          data: fc.jsonValue(),
          user: fc.string(),
          origin: fc.string(),
          ts: fc.nat(),
          ephemeral: fc.constantFrom(undefined, true as const),
        }),
        ({ ephemeral, ...fields }) => {
          const e: Envelope = { id: envelope.id, room: 'r:1', ...fields, data: fields.data as never };
          if (ephemeral) e.ephemeral = true;
          expect(envelopeHead(encodeEnvelope(e).json)).toEqual(headOf(e));
        },
      ),
    );
  });

  it('parses JSON in another key order whole, and refuses what is not an envelope', () => {
    const { id, room, data, user, origin, ts } = envelope;
    expect(envelopeHead(JSON.stringify({ ts, data, origin, user, room, id }))).toEqual(headOf(envelope));
    expect(envelopeHead(JSON.stringify({ id, room, data, user, origin }))).toBeUndefined();
    expect(envelopeHead(JSON.stringify({ id: 'not-a-uuid', room, data, user, origin, ts }))).toBeUndefined();
    expect(envelopeHead('{"id":')).toBeUndefined();
  });

  it('decodes an entry without its data, and refuses an unknown entry version', () => {
    const encoded = encodeEnvelope({ ...envelope, ephemeral: true });
    expect(decodeEntryText(entryFields(encoded))).toEqual({
      head: headOf(encoded.envelope),
      json: encoded.json,
    });
    expect(decodeEntryText(['e', encoded.json, 'v', '2'])).toBeUndefined();
    expect(decodeEntryText(['v', '1'])).toBeUndefined();
  });
});
