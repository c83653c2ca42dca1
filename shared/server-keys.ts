/**
 * Server API keys (`SERVER_API_KEYS`, header `x-api-key`): the application's backend calls the
 * server API with one of them. Shared by the edge and the nodes, so both parse and compare the same
 * way. Web Crypto only (no zod, no Node APIs).
 */

export const SERVER_API_KEY_HEADER = 'x-api-key';
export const SERVER_API_KEY_MIN_LENGTH = 32;

/** Splits `SERVER_API_KEYS`; returns an error message when a key is too short. Unset or empty: no keys. */
export function parseServerApiKeys(
  raw: string | undefined,
): { ok: true; keys: string[] } | { ok: false; message: string } {
  const keys = (raw ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const short = keys.findIndex((k) => k.length < SERVER_API_KEY_MIN_LENGTH);
  if (short >= 0) {
    return {
      ok: false,
      message: `key ${short + 1} is shorter than ${SERVER_API_KEY_MIN_LENGTH} characters`,
    };
  }
  return { ok: true, keys };
}

const encoder = new TextEncoder();

/**
 * Whether `given` is one of `keys`, in time independent of where they differ: both sides are hashed
 * (so lengths do not matter) and the digests compared without an early exit, against every key.
 */
export async function serverKeyMatches(given: string | undefined, keys: readonly string[]): Promise<boolean> {
  if (!given || keys.length === 0) return false;
  const digest = async (s: string) =>
    new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(s)));
  const mine = await digest(given);
  let matched = 0;
  for (const key of keys) {
    const theirs = await digest(key);
    let diff = 0;
    for (let i = 0; i < mine.length; i++) diff |= mine[i]! ^ theirs[i]!;
    matched |= diff === 0 ? 1 : 0;
  }
  return matched === 1;
}
