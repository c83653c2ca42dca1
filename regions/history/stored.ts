import type { EnvelopeId } from '../../shared';

/**
 * A stored envelope on its way into a `join` or `history` answer: its JSON text as the store holds
 * it, never decoded. An answer of worst-case envelopes (1 MiB of `[{},{},...]`, some 350,000 tiny
 * objects) costs the node's one thread only string copies this way, not a parse and an encode of
 * every object in it. Only the fields recovery orders by are kept beside the text.
 */
export interface StoredEnvelope {
  readonly id: EnvelopeId;
  readonly origin: string;
  readonly ts: number;
  /** The envelope's JSON, `{ id, room, data, user, origin, ts }`, put into answers as it is. */
  readonly json: string;
  /** UTF-8 bytes of `json`: what it costs an answer. */
  readonly bytes: number;
}

/** The fields recovery orders envelopes by. */
export type EnvelopeOrder = Pick<StoredEnvelope, 'id' | 'origin' | 'ts'>;

/**
 * A stored envelope from its JSON text and the fields recovery orders by; `bytes`, the UTF-8 bytes
 * of `json`, when the caller already knows them.
 */
export function storedEnvelope(
  order: EnvelopeOrder,
  json: string,
  bytes = Buffer.byteLength(json),
): StoredEnvelope {
  return { id: order.id, origin: order.origin, ts: order.ts, json, bytes };
}

// The JSON of an answer besides its envelopes (`{"ok":true,"room":...,"missed":[...],...}`).
const ANSWER_FRAMING_BYTES = 512;

/**
 * Counts the envelopes of one answer against its byte limit (`MAX_ANSWER_BYTES`), with room kept
 * for the answer's own framing. Readers fill it newest first and stop at the first that does not fit.
 */
export class AnswerBudget {
  private left: number;

  constructor(maxAnswerBytes: number) {
    this.left = maxAnswerBytes - ANSWER_FRAMING_BYTES;
  }

  /** Counts `stored` (and the comma before it) in; false, counting nothing, when it does not fit. */
  take(stored: StoredEnvelope): boolean {
    const size = stored.bytes + 1;
    if (size > this.left) return false;
    this.left -= size;
    return true;
  }
}

/** The newest of `list` (oldest first) that fit in one answer of `maxAnswerBytes`, oldest first. */
export function newestWithin(
  list: readonly StoredEnvelope[],
  maxAnswerBytes: number,
): { list: StoredEnvelope[]; cut: boolean } {
  const budget = new AnswerBudget(maxAnswerBytes);
  let first = list.length;
  while (first > 0 && budget.take(list[first - 1]!)) first--;
  return { list: list.slice(first), cut: first > 0 };
}

/** Bytes `list` adds to an answer (each envelope and a comma). */
export function answerBytes(list: readonly StoredEnvelope[]): number {
  let bytes = 0;
  for (const stored of list) bytes += stored.bytes + 1;
  return bytes;
}

/** The JSON array of `list`, made of the envelopes' texts as they are. */
export function jsonArray(list: readonly StoredEnvelope[]): string {
  return `[${list.map((stored) => stored.json).join(',')}]`;
}
