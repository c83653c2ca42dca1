import { Decoder, Encoder, PacketType, type Packet } from 'socket.io-parser';

/**
 * A value already encoded as JSON text, to be sent as one argument of an ack or event. With
 * `preEncodedParser` as the server's parser, the text goes into the packet as it is: Socket.IO
 * neither walks it looking for binary nor stringifies it. A `join` or `history` answer is built
 * from stored envelope texts this way, so a 1 MiB answer of tiny objects is never turned into
 * objects and back on the node's one thread.
 */
export class PreEncodedJson {
  constructor(readonly json: string) {}

  /**
   * What any other encoder (a server built without `preEncodedParser`) makes of it: the value
   * itself, so the bytes on the wire mean the same either way, only slower.
   */
  toJSON(): unknown {
    return JSON.parse(this.json);
  }
}

/**
 * The key of a broadcast argument carrying JSON text (`preEncodedBroadcast`). A class instance like
 * `PreEncodedJson` does not survive the Redis adapter's MessagePack hop to the other nodes; a plain
 * object does, and this key holds U+0000, which no envelope can hold in a key (`data` with one is
 * refused at publish), so no real value is ever taken for one.
 */
const BROADCAST_JSON = '\u0000json';

/**
 * JSON text to broadcast as one event argument through the adapter: every node of the region writes
 * it into its members' packets as it is, so an envelope is encoded once, at publish, and travels
 * between nodes as that text.
 */
export function preEncodedBroadcast(json: string): object {
  return { [BROADCAST_JSON]: json };
}

/** The JSON text of a pre-encoded argument, or undefined for any other value. */
function preEncodedText(arg: unknown): string | undefined {
  if (arg instanceof PreEncodedJson) return arg.json;
  if (typeof arg !== 'object' || arg === null) return undefined;
  const text = (arg as Record<string, unknown>)[BROADCAST_JSON];
  return typeof text === 'string' ? text : undefined;
}

/**
 * Socket.IO's encoder, except for EVENT and ACK packets with a pre-encoded argument: those are
 * written as text at once, `<type>[<nsp>,][<id>][arg,...]`, the pre-encoded arguments as they are and
 * the others with `JSON.stringify` (`undefined` as `null`), exactly as socket.io-parser writes a packet without binary. (A
 * packet with a pre-encoded argument must not carry binary in its other arguments.) Packets to this
 * node's own clients only: a broadcast through the Redis adapter is serialized by the adapter.
 */
class PreEncodedEncoder extends Encoder {
  override encode(packet: Packet): ReturnType<Encoder['encode']> {
    const args: unknown = packet.data;
    if (
      (packet.type === PacketType.ACK || packet.type === PacketType.EVENT) &&
      Array.isArray(args) &&
      args.some((arg) => preEncodedText(arg) !== undefined)
    ) {
      let head = String(packet.type);
      if (packet.nsp && packet.nsp !== '/') head += `${packet.nsp},`;
      if (packet.id !== undefined && packet.id !== null) head += String(packet.id);
      const body = args.map((arg) => preEncodedText(arg) ?? JSON.stringify(arg) ?? 'null');
      return [`${head}[${body.join(',')}]`];
    }
    return super.encode(packet);
  }
}

/** Socket.IO's decoder options, the defaults: one object for every connection's decoder. */
const DECODER_OPTIONS = Object.freeze({ reviver: undefined, maxAttachments: 10 });

type DecodedListener = (packet: Packet) => void;

/**
 * Socket.IO's decoder (one per connection), holding less: the default options shared instead of a
 * copy each, and its one `decoded` listener (the Socket.IO client's) in a one-element list, where
 * the emitter would grow a list of 16 for it (memory per idle connection, docs/benchmarks.md).
 */
export class LeanDecoder extends Decoder {
  constructor() {
    super();
    (this as unknown as { opts: object }).opts = DECODER_OPTIONS;
  }

  override on(event: 'decoded', listener: DecodedListener): this {
    const emitter = this as unknown as { _callbacks?: Record<string, DecodedListener[]> };
    if (emitter._callbacks !== undefined) return super.on(event, listener);
    emitter._callbacks = { $decoded: [listener] };
    return this;
  }
}

/** The parser for `new Server(..., { parser })`: Socket.IO's own, with `PreEncodedJson` passed through. */
export const preEncodedParser = { Encoder: PreEncodedEncoder, Decoder: LeanDecoder };
