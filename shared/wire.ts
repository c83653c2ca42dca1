import { isEnvelopeId, type Envelope, type EnvelopeId, type JsonValue } from './envelope';

/**
 * Records that cross processes, each with one versioned codec imported by every writer and reader.
 * A reader accepts the versions it knows (including records written before versions existed) and
 * answers `undefined` for anything else, so a rolling upgrade never crashes a consumer.
 *
 * Envelopes inside the platform were validated once, when they were published; readers of internal
 * streams check only their shape (no schema walk over `data`), so an envelope is encoded once at
 * the accepting node and decoded once per reader.
 */

/** Version of the stream entry that carries an envelope (regional outbox, global bus). */
export const ENTRY_VERSION = '1';

/** An envelope encoded once, with its JSON kept so later hops pass the bytes on unchanged. */
export interface EncodedEnvelope {
  readonly envelope: Envelope;
  readonly json: string;
}

/** The fields of an envelope besides `data`. */
export type EnvelopeHead = Omit<Envelope, 'data'>;

/**
 * An envelope as its JSON, with only its fields besides `data` decoded: what a hop that passes the
 * envelope on (a forwarder, the history writer) needs. A 64 KiB `data` of `[{},{},...]` is some
 * 20,000 objects to parse; these hops never parse it.
 */
export interface EnvelopeText {
  readonly head: EnvelopeHead;
  readonly json: string;
}

/** `item` as an envelope text (encoding an envelope that is not encoded yet). */
export function envelopeText(item: Envelope | EncodedEnvelope | EnvelopeText): EnvelopeText {
  if ('head' in item) return item;
  if ('json' in item) return { head: item.envelope, json: item.json };
  return { head: item, json: JSON.stringify(item) };
}

/**
 * The envelope of `head` whose `data` is decoded by `decodeData` only if something reads it, then
 * kept. A hop that passes an envelope on as its JSON (delivery, the recent buffer) never reads it, so
 * a 64 KiB `data` of tiny objects is never built. Built in an envelope's key order (data after room),
 * so `JSON.stringify` writes it as it writes the plain envelope.
 */
export function envelopeWithLazyData(head: EnvelopeHead, decodeData: () => JsonValue): Envelope {
  let decoded: { value: JsonValue } | undefined;
  const envelope = {
    id: head.id,
    room: head.room,
    data: null,
    user: head.user,
    origin: head.origin,
    ts: head.ts,
  };
  if (head.ephemeral) Object.assign(envelope, { ephemeral: true });
  return Object.defineProperty(envelope, 'data', {
    enumerable: true,
    // Methods, not arrows: an arrow bound to a property name is named at run time per envelope.
    get() {
      return (decoded ??= { value: decodeData() }).value;
    },
    set(value: JsonValue) {
      decoded = { value };
    },
  }) as Envelope;
}

/**
 * An envelope text as an encoded envelope: its JSON as it is, its `data` parsed from that JSON only
 * if something reads it (see `envelopeWithLazyData`).
 */
export function encodedFromText(text: EnvelopeText): EncodedEnvelope {
  const { json } = text;
  return {
    envelope: envelopeWithLazyData(text.head, () => (JSON.parse(json) as Envelope).data),
    json,
  };
}

/**
 * Encodes `envelope`; with `dataJson` (its `data` already encoded, e.g. to measure it), the data is
 * not encoded again. Either way the JSON is what `JSON.stringify(envelope)` gives.
 */
export function encodeEnvelope(envelope: Envelope, dataJson?: string): EncodedEnvelope {
  if (dataJson === undefined) return { envelope, json: JSON.stringify(envelope) };
  return { envelope, json: envelopeJson(envelope, dataJson) };
}

/**
 * The JSON of an envelope from its fields and its `data` as JSON text, which is put in as it is
 * (never parsed): how a stored envelope is answered without decoding its data.
 */
export function envelopeJson(head: Omit<Envelope, 'data'>, dataJson: string): string {
  const { id, room, user, origin, ts, ephemeral } = head;
  return (
    `{"id":${JSON.stringify(id)},"room":${JSON.stringify(room)},"data":${dataJson},` +
    `"user":${JSON.stringify(user)},"origin":${JSON.stringify(origin)},"ts":${JSON.stringify(ts)}` +
    `${ephemeral ? ',"ephemeral":true' : ''}}`
  );
}

/**
 * The fields of a stream entry carrying an envelope: `e` the envelope JSON, `v` the entry version,
 * and `x` = `1` for an ephemeral envelope (so a history writer can skip it without decoding).
 */
export function entryFields(encoded: EncodedEnvelope | EnvelopeText): string[] {
  // `e` first: readers of entries written before versions existed look for it there.
  const fields = ['e', encoded.json, 'v', ENTRY_VERSION];
  if (('head' in encoded ? encoded.head : encoded.envelope).ephemeral) fields.push('x', '1');
  return fields;
}

/** The envelope of an outbox or bus entry, or undefined when the entry is not one this code knows. */
export function decodeEntry(fields: readonly string[]): EncodedEnvelope | undefined {
  const json = entryJson(fields);
  const envelope = json === undefined ? undefined : parseEnvelope(json);
  return envelope && json !== undefined ? { envelope, json } : undefined;
}

/**
 * The envelope of an outbox or bus entry with its `data` left undecoded (see `envelopeHead`), or
 * undefined when the entry is not one this code knows.
 */
export function decodeEntryText(fields: readonly string[]): EnvelopeText | undefined {
  const json = entryJson(fields);
  const head = json === undefined ? undefined : envelopeHead(json);
  return head && json !== undefined ? { head, json } : undefined;
}

function entryJson(fields: readonly string[]): string | undefined {
  let json: string | undefined;
  let version: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'e') json = fields[i + 1];
    else if (fields[i] === 'v') version = fields[i + 1];
  }
  // Entries written before versions existed have only `e`, in the same shape as version 1.
  return version === undefined || version === ENTRY_VERSION ? json : undefined;
}

const HEAD_KEYS = new Set(['id', 'room']);
const TAIL_KEYS = new Set(['user', 'origin', 'ts', 'ephemeral']);

/**
 * The fields besides `data` of envelope JSON from an internal stream, without parsing `data`. The
 * JSON `envelopeJson` writes (and `JSON.stringify` of an envelope made in that key order) is
 * `{"id":..,"room":..,"data":<data>,"user":..,"origin":..,"ts":..[,"ephemeral":true]}`: the first
 * `,"data":` ends the head (an id and a room name hold no such text), and the last `,"user":"`
 * starts the tail (no string can hold an unescaped quote). Only those two small slices are parsed,
 * and each must hold exactly its keys; JSON in any other shape is parsed whole (`parseEnvelope`).
 */
export function envelopeHead(json: string): EnvelopeHead | undefined {
  const dataAt = json.indexOf(',"data":');
  const userAt = json.lastIndexOf(',"user":"');
  if (dataAt > 0 && userAt > dataAt) {
    try {
      const head = JSON.parse(`${json.slice(0, dataAt)}}`) as Record<string, unknown>;
      const tail = JSON.parse(`{${json.slice(userAt + 1)}`) as Record<string, unknown>;
      if (hasOnly(head, HEAD_KEYS) && hasOnly(tail, TAIL_KEYS)) {
        const candidate = { ...head, ...tail };
        if (isEnvelopeHead(candidate)) return candidate;
      }
    } catch {
      // Not in that shape: parsed whole below.
    }
  }
  const envelope = parseEnvelope(json);
  if (!envelope) return undefined;
  const { id, room, user, origin, ts, ephemeral } = envelope;
  return ephemeral ? { id, room, user, origin, ts, ephemeral } : { id, room, user, origin, ts };
}

function hasOnly(value: unknown, keys: ReadonlySet<string>): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.keys(value).every((key) => keys.has(key));
}

function isEnvelopeHead(e: Record<string, unknown>): e is EnvelopeHead {
  return (
    isEnvelopeId(e.id) &&
    typeof e.room === 'string' &&
    typeof e.user === 'string' &&
    typeof e.origin === 'string' &&
    typeof e.ts === 'number' &&
    (e.ephemeral === undefined || e.ephemeral === true)
  );
}

/** Whether an entry's fields mark an ephemeral envelope (no decoding). */
export function entryIsEphemeral(fields: readonly string[]): boolean {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'x') return fields[i + 1] === '1';
  return false;
}

/** Parses envelope JSON from an internal stream, checking its shape only. */
export function parseEnvelope(json: string): Envelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const e = value as Record<string, unknown>;
  if (!isEnvelopeHead(e) || !('data' in e)) return undefined;
  return value as Envelope;
}

/** Version of the ack record a publish id's claim holds. */
export const ACK_VERSION = 1;

/** What a publish retry is answered with, and who the first publish belonged to. */
export interface AckRecord {
  id: EnvelopeId;
  ts: number;
  room: string;
  user: string;
}

export function encodeAckRecord(record: AckRecord): string {
  return JSON.stringify({ v: ACK_VERSION, ...record });
}

export function decodeAckRecord(text: string): AckRecord | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if ((value.v ?? ACK_VERSION) !== ACK_VERSION) return undefined;
    if (!isEnvelopeId(value.id) || typeof value.ts !== 'number') return undefined;
    if (typeof value.room !== 'string' || typeof value.user !== 'string') return undefined;
    return { id: value.id, ts: value.ts, room: value.room, user: value.user };
  } catch {
    return undefined;
  }
}

/** Version of a node's heartbeat record. */
export const HEARTBEAT_VERSION = 1;

/**
 * One node's heartbeat, as it stands in the global Redis hash `rt:health` (field `{region}/{node}`):
 * written by each region node (`regions/health/beacon.ts`), read by the edge to route (`edge/health.ts`)
 * and shown by the demo page (through `GET /v1/regions`). An entry whose `expiresAt` has passed means
 * the node is gone.
 */
export interface NodeHeartbeat {
  region: string;
  node: string;
  /** Reachable URL of the node as its operator published it (informational). */
  url: string;
  connections: number;
  /** Connections the node accepts before the edge stops sending it more. */
  capacity: number;
  /** 1-minute load average per core. */
  load: number;
  draining: boolean;
  /** Milliseconds since the epoch after which this entry is stale. */
  expiresAt: number;
}

export function encodeHeartbeat(heartbeat: NodeHeartbeat): string {
  return JSON.stringify({ v: HEARTBEAT_VERSION, ...heartbeat });
}

/** A heartbeat from its stored JSON (or the object a REST client already parsed); extra fields are ignored. */
export function decodeHeartbeat(stored: unknown): NodeHeartbeat | undefined {
  let value = stored;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const h = value as Record<string, unknown>;
  if ((h.v ?? HEARTBEAT_VERSION) !== HEARTBEAT_VERSION) return undefined;
  const ok =
    typeof h.region === 'string' &&
    typeof h.node === 'string' &&
    typeof h.url === 'string' &&
    typeof h.connections === 'number' &&
    h.connections >= 0 &&
    typeof h.capacity === 'number' &&
    h.capacity > 0 &&
    typeof h.load === 'number' &&
    typeof h.draining === 'boolean' &&
    typeof h.expiresAt === 'number';
  if (!ok) return undefined;
  const { region, node, url, connections, capacity, load, draining, expiresAt } =
    h as unknown as NodeHeartbeat;
  return { region, node, url, connections, capacity, load, draining, expiresAt };
}
