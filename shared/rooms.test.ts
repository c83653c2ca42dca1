import { describe, expect, it } from 'vitest';
import { roomPatternSchema } from './auth';
import { isValidRoomName, roomAllowed } from './rooms';

describe('room names', () => {
  it('accepts 1..128 of letters, digits and :_.-', () => {
    expect(isValidRoomName('chat:general_1.2-3')).toBe(true);
    expect(isValidRoomName('x'.repeat(128))).toBe(true);
    for (const bad of ['', 'x'.repeat(129), 'has space', 'slash/no', 'star*', 'émoji', 42, null]) {
      expect(isValidRoomName(bad), String(bad)).toBe(false);
    }
  });
});

describe('room patterns', () => {
  it('grants exact names, prefixes ending in *, and * for all', () => {
    expect(roomAllowed(['team:42'], 'team:42')).toBe(true);
    expect(roomAllowed(['team:42'], 'team:420')).toBe(false);
    expect(roomAllowed(['chat:*'], 'chat:')).toBe(true);
    expect(roomAllowed(['chat:*'], 'chat:lobby')).toBe(true);
    expect(roomAllowed(['chat:*'], 'chatter')).toBe(false);
    expect(roomAllowed(['*'], 'anything')).toBe(true);
    expect(roomAllowed([], 'anything')).toBe(false);
  });

  it('rejects patterns that are not a name or a prefix ending in *', () => {
    for (const ok of ['*', 'chat:*', 'team:42'])
      expect(roomPatternSchema.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['', 'a*b', '**', 'with space*'])
      expect(roomPatternSchema.safeParse(bad).success, bad).toBe(false);
  });
});
