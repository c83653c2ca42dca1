import type { JsonValue } from './envelope';

/**
 * Deepest nesting of arrays and objects a `data` value may have (the value itself is depth 0, and
 * `[[1]]` is depth 2). Deeper values are refused `invalid`: nothing legitimate needs more, and a
 * narrow deep value is the cheapest way to make every recursive reader downstream (JSON.stringify,
 * Postgres, other clients' parsers) work hard or overflow its stack.
 */
export const MAX_JSON_DEPTH = 32;

// A lone surrogate survives JSON.stringify as `\udXXX`, which strict JSON readers (Postgres' jsonb) refuse.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What the value check and the text scan (json-text.ts) say about a value they refuse. */
export const VALUE_PROBLEMS = {
  nul: 'strings must not contain U+0000',
  loneSurrogate: 'strings must be well-formed UTF-16 (no lone surrogates)',
  tooDeep: (maxDepth: number) => `nested deeper than ${maxDepth} levels`,
};

function stringProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return VALUE_PROBLEMS.nul;
  if (LONE_SURROGATE.test(s)) return VALUE_PROBLEMS.loneSurrogate;
  return undefined;
}

/**
 * Why `value` cannot be stored and delivered exactly as sent, or undefined when it can: a JSON value
 * (null, boolean, finite number, string, array, plain object) nested at most MAX_JSON_DEPTH deep, with
 * no U+0000 and no lone surrogate in any string or key. Iterative, one pass over the value: its cost
 * is linear in the value's size whatever its shape, and it never recurses. Keys such as `__proto__`
 * are ordinary keys here; the value is never copied, so they reach every member unchanged.
 */
export function jsonValueProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const stack: unknown[] = [value];
  const depths: number[] = [0];
  while (stack.length > 0) {
    const item = stack.pop();
    const depth = depths.pop()!;
    if (item === null || typeof item === 'boolean') continue;
    if (typeof item === 'number') {
      if (!Number.isFinite(item)) return 'numbers must be finite';
      continue;
    }
    if (typeof item === 'string') {
      const problem = stringProblem(item);
      if (problem) return problem;
      continue;
    }
    if (typeof item !== 'object') return `${typeof item} is not a JSON value`;
    if (depth >= maxDepth) return VALUE_PROBLEMS.tooDeep(maxDepth);
    if (Array.isArray(item)) {
      for (const element of item) {
        stack.push(element);
        depths.push(depth + 1);
      }
      continue;
    }
    const proto: unknown = Object.getPrototypeOf(item);
    if (proto !== Object.prototype && proto !== null) return 'objects must be plain JSON objects';
    for (const key of Object.keys(item)) {
      const problem = stringProblem(key);
      if (problem) return `key: ${problem}`;
      stack.push((item as Record<string, unknown>)[key]);
      depths.push(depth + 1);
    }
  }
  return undefined;
}

/** Type guard over `jsonValueProblem`. */
export function isStorableJson(value: unknown): value is JsonValue {
  return jsonValueProblem(value) === undefined;
}
