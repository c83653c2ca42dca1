/** Room names: 1..128 of letters, digits and `:_.-`. (No zod here: the browser SDK imports this.) */
export const ROOM_NAME = /^[A-Za-z0-9:_.-]{1,128}$/;

export function isValidRoomName(room: unknown): room is string {
  return typeof room === 'string' && ROOM_NAME.test(room);
}

/** A token's room pattern: a room name, or a prefix ending in `*`, or `*` alone. */
export const ROOM_PATTERN = /^[A-Za-z0-9:_.-]{0,128}\*?$/;

/** Whether any of `patterns` grants `room`. */
export function roomAllowed(patterns: readonly string[], room: string): boolean {
  return patterns.some((pattern) =>
    pattern.endsWith('*') ? room.startsWith(pattern.slice(0, -1)) : room === pattern,
  );
}
