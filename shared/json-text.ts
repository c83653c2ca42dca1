import { MAX_JSON_DEPTH, VALUE_PROBLEMS } from './json-value';

/** What `scanJsonText` read: where the value ends, and why it cannot be stored (or undefined). */
export interface JsonTextScan {
  end: number;
  problem: string | undefined;
}

/**
 * Reads the JSON value that starts at `text[start]` in one pass over its characters, without
 * building it, when the text is exactly what `JSON.stringify` writes for the value it holds; answers
 * undefined for anything else (not JSON, or JSON in another form: whitespace, `1.0`, `\u0041`, `\/`,
 * a key repeated in one object, array-index keys after other keys or out of order, which JSON.parse
 * puts first and in order). When it answers, `slice = text.slice(start, end)` is JSON, `problem` is
 * set exactly when `jsonValueProblem(JSON.parse(slice))` is (of several problems in one value, the
 * one named may differ), and without a problem `JSON.stringify(JSON.parse(slice)) === slice`. Like
 * `jsonValueProblem` it never recurses, and its cost is linear in the text whatever its shape. A
 * caller that gets undefined parses the text instead.
 */
export function scanJsonText(
  text: string,
  start: number,
  maxDepth = MAX_JSON_DEPTH,
): JsonTextScan | undefined {
  return new JsonTextScanner(text, maxDepth).scan(start);
}

const ARRAY = 1;
const OBJECT = 2;
/** An object's keys are compared pairwise up to this many, then through a Set. */
const FEW_KEYS = 8;
/** Characters a string holds as they are in JSON.stringify's form (no quote, backslash, control or surrogate). */
// eslint-disable-next-line no-control-regex -- control characters are what ends such a run
const PLAIN_RUN = /[^"\\\u0000-\u001f\ud800-\udfff]+/y;

/** One scan: every `read*` method takes the index where its token starts and answers the index after it, or -1. */
class JsonTextScanner {
  private readonly kinds: number[] = [];
  // Per open object: its first key, its other keys once it has more than one, and the last array
  // index among its keys (-1: none yet; -2: a key that is not one came, so none may follow).
  private readonly firstKeys: (string | undefined)[] = [];
  private readonly moreKeys: (string[] | Set<string> | undefined)[] = [];
  private readonly lastIndexes: number[] = [];
  private problem: string | undefined;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  scan(start: number): JsonTextScan | undefined {
    const { text, kinds } = this;
    let i = start;
    for (;;) {
      i = this.readValueStart(i);
      if (i < 0) return undefined;
      if (kinds.length > 0 && this.opened) continue;
      // After a value: the next element, the next member, or the end of containers.
      for (;;) {
        const kind = kinds[kinds.length - 1];
        if (kind === undefined) return { end: i, problem: this.problem };
        const c = text.charCodeAt(i);
        if (c === 0x2c /* , */) {
          i = kind === OBJECT ? this.readKey(i + 1) : i + 1;
          if (i < 0) return undefined;
          break;
        }
        if (c !== (kind === ARRAY ? 0x5d /* ] */ : 0x7d) /* } */) return undefined;
        i++;
        this.close(kind);
      }
    }
  }

  /** Whether the last `readValueStart` opened a container (its first element or member is next). */
  private opened = false;

  /**
   * Reads a primitive, an empty container, or the opening of a container (and its first key):
   * then the container's first value is next (`opened`).
   */
  private readValueStart(at: number): number {
    const { text } = this;
    this.opened = false;
    const c = text.charCodeAt(at);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (this.kinds.length >= this.maxDepth) this.problem ??= VALUE_PROBLEMS.tooDeep(this.maxDepth);
      if (text.charCodeAt(at + 1) === (c === 0x7b ? 0x7d : 0x5d)) return at + 2;
      this.opened = true;
      if (c === 0x5b) {
        this.kinds.push(ARRAY);
        return at + 1;
      }
      this.kinds.push(OBJECT);
      this.firstKeys.push(undefined);
      this.moreKeys.push(undefined);
      this.lastIndexes.push(-1);
      return this.readKey(at + 1);
    }
    if (c === 0x22 /* " */) return this.readString(at, '');
    if (c === 0x2d /* - */ || isDigit(c)) return this.readNumber(at);
    if (text.startsWith('true', at) || text.startsWith('null', at)) return at + 4;
    if (text.startsWith('false', at)) return at + 5;
    return -1;
  }

  private close(kind: number): void {
    this.kinds.pop();
    if (kind === OBJECT) {
      this.firstKeys.pop();
      this.moreKeys.pop();
      this.lastIndexes.pop();
    }
  }

  /** Reads `"key":` into the innermost object. */
  private readKey(at: number): number {
    const { text } = this;
    if (text.charCodeAt(at) !== 0x22) return -1;
    const end = this.readString(at, 'key: ');
    if (end < 0 || text.charCodeAt(end) !== 0x3a /* : */) return -1;
    const key = text.slice(at + 1, end - 1);
    const level = this.firstKeys.length - 1;
    // An object's array-index keys come first, in ascending order, in what JSON.parse builds and so
    // in what JSON.stringify writes; the text must have them so.
    const index = isDigit(key.charCodeAt(0)) ? arrayIndex(key) : -1;
    const lastIndex = this.lastIndexes[level]!;
    if (index >= 0) {
      if (lastIndex === -2 || index <= lastIndex) return -1;
      this.lastIndexes[level] = index;
      return end + 1;
    }
    this.lastIndexes[level] = -2;
    // Other keys are compared as written, which in this form is the same as comparing them decoded
    // (every character has one spelling).
    const first = this.firstKeys[level];
    if (first === undefined) {
      this.firstKeys[level] = key;
      return end + 1;
    }
    if (key === first) return -1;
    const more = (this.moreKeys[level] ??= []);
    if (Array.isArray(more)) {
      if (more.includes(key)) return -1;
      more.push(key);
      if (more.length > FEW_KEYS) this.moreKeys[level] = new Set(more);
    } else {
      if (more.has(key)) return -1;
      more.add(key);
    }
    return end + 1;
  }

  /** Reads the string at `at` (its opening quote); `what` prefixes the problem it finds. */
  private readString(at: number, what: string): number {
    const { text } = this;
    for (let j = at + 1; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (isPlain(c)) {
        // A run of them is skipped at once.
        if (isPlain(text.charCodeAt(j + 1))) {
          PLAIN_RUN.lastIndex = j;
          PLAIN_RUN.test(text);
          j = PLAIN_RUN.lastIndex - 1;
        }
        continue;
      }
      if (c === 0x22) return j + 1;
      if (c === 0x5c /* \ */) {
        const e = text.charCodeAt(j + 1);
        if (e === 0x75 /* u */) {
          if (!this.readEscapedCode(j + 2, what)) return -1;
          j += 5;
        } else if (isShortEscape(e)) j++;
        else return -1;
      } else if (c < 0x20) return -1;
      else if (c >= 0xd800 && c <= 0xdfff) {
        const next = text.charCodeAt(j + 1);
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) j++;
        // A raw high one and an escaped low one decode to a pair, written otherwise.
        else if (c <= 0xdbff && this.isLowSurrogateAt(j + 1)) return -1;
        else this.problem ??= `${what}${VALUE_PROBLEMS.loneSurrogate}`;
      }
    }
    return -1;
  }

  /**
   * Reads the four hex digits of a `\u` escape at `at`; false unless JSON.stringify writes that
   * character so: a control character without a short escape (`\u00xx`), or a lone surrogate
   * (`\udxxx`), in lowercase.
   */
  private readEscapedCode(at: number, what: string): boolean {
    let code = 0;
    for (let k = 0; k < 4; k++) {
      const digit = hexLower(this.text.charCodeAt(at + k));
      if (digit < 0) return false;
      code = code * 16 + digit;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      // A high one that a low one follows would be a pair, which JSON.stringify writes as it is.
      if (code <= 0xdbff && this.isLowSurrogateAt(at + 4)) return false;
      this.problem ??= `${what}${VALUE_PROBLEMS.loneSurrogate}`;
      return true;
    }
    // \b \t \n \f \r have short escapes, which JSON.stringify uses.
    if (code >= 0x20 || code === 8 || code === 9 || code === 10 || code === 12 || code === 13) return false;
    if (code === 0) this.problem ??= `${what}${VALUE_PROBLEMS.nul}`;
    return true;
  }

  /** Whether a low surrogate is at `at`, as it is or escaped (in any case: JSON.parse reads both). */
  private isLowSurrogateAt(at: number): boolean {
    const c = this.text.charCodeAt(at);
    if (c >= 0xdc00 && c <= 0xdfff) return true;
    if (c !== 0x5c || this.text.charCodeAt(at + 1) !== 0x75) return false;
    const hex = this.text.slice(at + 2, at + 6);
    const code = Number.parseInt(hex, 16);
    return /^[0-9a-fA-F]{4}$/.test(hex) && code >= 0xdc00 && code <= 0xdfff;
  }

  /** Reads the number at `at`; -1 also when JSON.stringify would write it otherwise. */
  private readNumber(at: number): number {
    const { text } = this;
    let j = at;
    if (text.charCodeAt(j) === 0x2d) j++;
    const intStart = j;
    const first = text.charCodeAt(j);
    if (first === 0x30) j++;
    else if (first >= 0x31 && first <= 0x39) j = skipDigits(text, j);
    else return -1;
    const intDigits = j - intStart;
    let fracStart = j;
    if (text.charCodeAt(j) === 0x2e /* . */) {
      fracStart = ++j;
      if (!isDigit(text.charCodeAt(j))) return -1;
      j = skipDigits(text, j);
    }
    const fracEnd = j;
    const e = text.charCodeAt(j);
    const exponent = e === 0x65 || e === 0x45;
    if (exponent) {
      j++;
      const sign = text.charCodeAt(j);
      if (sign === 0x2b || sign === 0x2d) j++;
      if (!isDigit(text.charCodeAt(j))) return -1;
      j = skipDigits(text, j);
    }
    if (!exponent && this.writtenAsIs(at, intStart, intDigits, fracStart, fracEnd)) return j;
    // Anything else is compared with how JSON.stringify writes its value (1e400 is "Infinity").
    const token = text.slice(at, j);
    return String(Number(token)) === token ? j : -1;
  }

  /**
   * Whether a number without exponent is surely written by JSON.stringify as it is: at most 15
   * significant digits (every such decimal has its own double, and the shortest form of that double
   * is the decimal itself), no trailing zero after the point, not -0, and not below 1e-6 (written
   * with an exponent).
   */
  private writtenAsIs(at: number, intStart: number, intDigits: number, fracStart: number, fracEnd: number) {
    const { text } = this;
    const fracDigits = fracEnd - fracStart;
    const zeroInt = text.charCodeAt(intStart) === 0x30;
    if (fracDigits === 0) return intDigits <= 15 && !(zeroInt && intStart > at);
    if (text.charCodeAt(fracEnd - 1) === 0x30) return false;
    if (!zeroInt) return intDigits + fracDigits <= 15;
    let zeros = 0;
    while (text.charCodeAt(fracStart + zeros) === 0x30) zeros++;
    return zeros < 6 && fracDigits - zeros <= 15;
  }
}

function isPlain(c: number): boolean {
  return c >= 0x20 && c !== 0x22 && c !== 0x5c && (c < 0xd800 || c > 0xdfff);
}

/** `"`, `\`, b, f, n, r, t: the escapes JSON.stringify writes besides `\u`. */
function isShortEscape(e: number): boolean {
  return e === 0x22 || e === 0x5c || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The array index `key` names (a canonical integer below 2^32 - 1), or -1. */
function arrayIndex(key: string): number {
  if (key.length > 10 || !/^(0|[1-9][0-9]*)$/.test(key)) return -1;
  const index = Number(key);
  return index <= 4294967294 ? index : -1;
}

function skipDigits(text: string, at: number): number {
  let j = at;
  while (isDigit(text.charCodeAt(j))) j++;
  return j;
}

function hexLower(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}
