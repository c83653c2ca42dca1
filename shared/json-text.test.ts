import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanJsonText } from './json-text';
import { MAX_JSON_DEPTH, jsonValueProblem } from './json-value';

/** What the scan must agree with: the value JSON.parse builds, checked by the value walk. */
function expectSameAsParse(text: string, start = 0): void {
  const scan = scanJsonText(text, start);
  if (!scan) return;
  const slice = text.slice(start, scan.end);
  const value: unknown = JSON.parse(slice);
  expect(scan.problem === undefined).toBe(jsonValueProblem(value) === undefined);
  if (scan.problem === undefined) expect(JSON.stringify(value)).toBe(slice);
}

// Characters that make JSON and most of its edge cases, so random texts often are JSON.
const jsonish = fc.constantFrom(
  ...'[]{},:"\\ 0123456789-+.eEtrufalsn/bu'.split(''),
  '\u0000',
  '\u001f',
  '\ud800',
  '\udc00',
  'é',
  '"a"',
  '"1"',
  '"0"',
  '"01"',
  '\\u0000',
  '\\u001f',
  '\\u001F',
  '\\u0041',
  '\\ud83d\\ude00',
  '\\ud83d',
  '\\ude00',
  '\\uDE00',
  '\ude00',
  '1e400',
  '0.000001',
  '0.0000001',
);

/** Any UTF-16 code unit, lone surrogates and U+0000 included. */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

describe('scanJsonText', () => {
  it('reads whatever JSON.stringify writes, at its full length, agreeing with the value check', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: anyCodeUnit, maxDepth: 40 }), (value) => {
        const text = JSON.stringify(value);
        const scan = scanJsonText(text, 0);
        expect(scan?.end).toBe(text.length);
        expect(scan?.problem === undefined).toBe(jsonValueProblem(JSON.parse(text)) === undefined);
      }),
      { numRuns: 2000 },
    );
  });

  it('answers for any text only when JSON.parse agrees with it, value check and form', () => {
    fc.assert(
      fc.property(fc.array(jsonish, { maxLength: 40 }), (parts) => expectSameAsParse(parts.join(''))),
      { numRuns: 20_000 },
    );
    // The same around valid JSON, mutated by one character.
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.nat(), jsonish, (value, at, insert) => {
        const text = JSON.stringify(value);
        const i = at % (text.length + 1);
        expectSameAsParse(text.slice(0, i) + insert + text.slice(i));
        expectSameAsParse(text.slice(0, i) + insert + text.slice(i + 1));
      }),
      { numRuns: 5000 },
    );
  });

  it('reads numbers exactly when JSON.stringify writes them as they are', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const text = JSON.stringify(n);
        expect(scanJsonText(text, 0)?.end).toBe(text.length);
      }),
      { numRuns: 5000 },
    );
    const token = fc
      .tuple(
        fc.constantFrom('', '-'),
        fc.stringMatching(/^(0|[1-9][0-9]{0,20})$/),
        fc.option(fc.stringMatching(/^[0-9]{1,20}$/)),
        fc.option(fc.stringMatching(/^[eE][+-]?[0-9]{1,3}$/)),
      )
      .map(([sign, int, frac, exp]) => `${sign}${int}${frac === null ? '' : `.${frac}`}${exp ?? ''}`);
    fc.assert(
      fc.property(token, (t) => {
        expect(scanJsonText(t, 0) !== undefined).toBe(String(Number(t)) === t);
      }),
      { numRuns: 20_000 },
    );
  });

  it('names each problem of a value, as the value check does', () => {
    const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
    expect(scanJsonText(nested(MAX_JSON_DEPTH), 0)?.problem).toBeUndefined();
    expect(scanJsonText(nested(MAX_JSON_DEPTH + 1), 0)?.problem).toBe('nested deeper than 32 levels');
    // Far deeper than JSON.stringify can go back (its recursion overflows), still one pass.
    expect(scanJsonText(nested(100_000), 0)?.problem).toBe('nested deeper than 32 levels');
    expect(scanJsonText('["a\\u0000"]', 0)?.problem).toBe('strings must not contain U+0000');
    expect(scanJsonText('{"\\u0000":1}', 0)?.problem).toBe('key: strings must not contain U+0000');
    expect(scanJsonText('["\ud800"]', 0)?.problem).toBe(
      'strings must be well-formed UTF-16 (no lone surrogates)',
    );
    expect(scanJsonText('["\udc00\ud800"]', 0)?.problem).toBeDefined();
    // As JSON.stringify writes lone surrogates.
    expect(scanJsonText(JSON.stringify(['a\ud800', 'b']), 0)?.problem).toBe(
      'strings must be well-formed UTF-16 (no lone surrogates)',
    );
    expect(scanJsonText(JSON.stringify({ '\udc00': 1 }), 0)?.problem).toBe(
      'key: strings must be well-formed UTF-16 (no lone surrogates)',
    );
    expect(scanJsonText('["\ud83d\ude00"]', 0)).toEqual({ end: 6, problem: undefined });
    expect(scanJsonText('{"__proto__":{"constructor":null}}', 0)?.problem).toBeUndefined();
  });

  it('leaves JSON in any other form to JSON.parse', () => {
    for (const text of [
      '[1, 2]',
      ' 1',
      '1.0',
      '1e2',
      '-0',
      '1e400',
      '"\\u0041"',
      '"\\/"',
      '"\\u001F"',
      '"\\ud83d\\ude00"',
      '"\\ud83d\ude00"',
      '"\ud83d\\ude00"',
      '"\\uD800"',
      '{"a":1,"a":2}',
      '{"b":1,"1":2}',
      '{"1":0,"0":1}',
      '{"01":1,"0":2}',
      '{"4294967295":1,"0":1}',
      '[01]',
      '[1,]',
      '{"a"}',
      '"\n"',
      'tru',
      '[',
    ]) {
      expect(scanJsonText(text, 0), text).toBeUndefined();
    }
  });

  it('reads a value inside a longer text and says where it ends', () => {
    const text = '["publish",{"room":"r","data":[{},{"a":[1,"x"]}],"id":"i"}]';
    const at = text.indexOf('[{}');
    expect(scanJsonText(text, at)).toEqual({ end: text.indexOf(',"id"'), problem: undefined });
  });

  it('reads many keys of one object, and finds the repeated one', () => {
    const keys = Array.from({ length: 50 }, (_, i) => `"k${i}":${i}`);
    expect(scanJsonText(`{${keys.join(',')}}`, 0)?.problem).toBeUndefined();
    expect(scanJsonText(`{${keys.join(',')},"k3":0}`, 0)).toBeUndefined();
    // Array indexes first and in order, as JSON.stringify writes them; digits that are none are keys.
    expect(
      scanJsonText('{"0":1,"7":2,"4294967294":0,"b":3,"01":4,"4294967295":5}', 0)?.problem,
    ).toBeUndefined();
    // The same key in two different objects is no repeat.
    expect(scanJsonText('[{"a":1,"b":2},{"a":1,"b":2}]', 0)?.problem).toBeUndefined();
  });
});
