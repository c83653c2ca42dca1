import { describe, expect, it } from 'vitest';
import { newEnvelopeId, type Envelope } from './envelope';
import {
  decodeAckRecord,
  decodeEntry,
  decodeHeartbeat,
  encodeAckRecord,
  encodeEnvelope,
  encodeHeartbeat,
  entryFields,
  entryIsEphemeral,
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
