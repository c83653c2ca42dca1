import { z } from 'zod';

/** Room names: 1..128 of letters, digits and `:_.-`. */
export const ROOM_NAME = /^[A-Za-z0-9:_.-]{1,128}$/;

export const roomNameSchema = z.string().regex(ROOM_NAME, 'room must match ^[A-Za-z0-9:_.-]{1,128}$');

/**
 * A room pattern from a token's `rooms` claim: an exact room name, or a prefix ending in `*`
 * (`chat:*`), or `*` alone for every room.
 */
export const roomPatternSchema = z
  .string()
  .regex(/^[A-Za-z0-9:_.-]{0,128}\*?$/, 'pattern must be a room name or a prefix ending in *')
  .refine((p) => p.length > 0, 'pattern must not be empty');

export function isValidRoomName(room: unknown): room is string {
  return typeof room === 'string' && ROOM_NAME.test(room);
}

/** Whether any of `patterns` grants `room`. */
export function roomAllowed(patterns: readonly string[], room: string): boolean {
  return patterns.some((pattern) =>
    pattern.endsWith('*') ? room.startsWith(pattern.slice(0, -1)) : room === pattern,
  );
}
