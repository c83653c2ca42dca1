import { v7 as uuidv7 } from 'uuid';

/**
 * An envelope id: a lowercase UUIDv7. It is the idempotency key everywhere: publish retries, the
 * global bus, each region's dedup window, the history primary key and the SDK's duplicate filter.
 */
export type EnvelopeId = string & { readonly __brand: 'EnvelopeId' };

/** A lowercase UUIDv7. (This module has no zod on purpose: the browser SDK imports it.) */
export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isEnvelopeId(value: unknown): value is EnvelopeId {
  return typeof value === 'string' && UUID_V7.test(value);
}

/** A new time-ordered envelope id. */
export function newEnvelopeId(): EnvelopeId {
  return uuidv7() as EnvelopeId;
}

/** The time a UUIDv7 was made, in milliseconds since the epoch (its first 48 bits). */
export function envelopeIdTime(id: EnvelopeId): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** JSON value carried by an envelope. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Every room event travels as one envelope, from the accepting node to every region and to history. */
export interface Envelope {
  id: EnvelopeId;
  room: string;
  data: JsonValue;
  /** The `sub` of the publisher's token. */
  user: string;
  /** The region that accepted the envelope. */
  origin: string;
  /** Milliseconds since the epoch, set by the accepting node. */
  ts: number;
  /** Present (true) on an ephemeral envelope: delivered live, never stored in any history. */
  ephemeral?: true;
}

/** Bytes of `data` as UTF-8 JSON: what the payload limit is measured on. */
export function encodedSize(data: unknown): number {
  return new TextEncoder().encode(JSON.stringify(data) ?? '').byteLength;
}
