import { describe, expect, it } from 'vitest';
import { encodedSize, isEnvelopeId, newEnvelopeId } from './envelope';
import { envelopeIdSchema } from './protocol';
import { parseGeo, distanceKm } from './geo';
import { parseSessionId, formatSessionId } from './session';

describe('envelope ids', () => {
  it('are lowercase UUIDv7, time-ordered', () => {
    const ids = Array.from({ length: 50 }, () => newEnvelopeId());
    for (const id of ids) expect(isEnvelopeId(id)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
  });

  it('reject other UUID versions and non-UUIDs', () => {
    expect(envelopeIdSchema.safeParse('0190d1f0-0000-4000-8000-000000000000').success).toBe(false);
    expect(envelopeIdSchema.safeParse('0190D1F0-0000-7000-8000-000000000000').success).toBe(false);
    expect(envelopeIdSchema.safeParse('nope').success).toBe(false);
  });

  it('measures data as UTF-8 JSON bytes', () => {
    expect(encodedSize('é')).toBe(4); // "é" -> quote, 2 bytes, quote
    expect(encodedSize({ a: 1 })).toBe(7);
  });
});

describe('geo', () => {
  it('parses LAT,LON and rejects the rest', () => {
    expect(parseGeo('50.1, 8.7')).toEqual({ lat: 50.1, lon: 8.7 });
    for (const bad of ['', '50.1', 'a,b', '91,0', '0,181', '1,2,3', ',', '52.5,', ',13.4', null, undefined])
      expect(parseGeo(bad)).toBeUndefined();
  });

  it('measures great-circle distance', () => {
    // Frankfurt to Dublin is about 1,090 km.
    expect(distanceKm({ lat: 50.11, lon: 8.68 }, { lat: 53.35, lon: -6.26 })).toBeCloseTo(1090, -1);
    expect(distanceKm({ lat: 1, lon: 2 }, { lat: 1, lon: 2 })).toBe(0);
  });
});

describe('session ids', () => {
  it('name their region and node', () => {
    expect(parseSessionId(formatSessionId('eu-west', 'eu-west-1', 'abc'))).toEqual({
      region: 'eu-west',
      node: 'eu-west-1',
    });
    for (const bad of ['plainsid', 'a~b', 'a~b~c~d', '', null]) expect(parseSessionId(bad)).toBeUndefined();
  });
});
