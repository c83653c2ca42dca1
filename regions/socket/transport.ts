import { Transport } from 'engine.io';
import { Decoder, Encoder, PacketType, type Packet } from 'socket.io-parser';
import { holdWritesThisTurn, type CorkableStream, type HeldWritesOwner } from '../turn-writes';

// What this node runs in place of Socket.IO's packet parser and Engine.IO's WebSocket transport
// (both installed by server.ts): packets that carry JSON already encoded (an envelope's, encoded
// once at publish) are written with that text as it is, and an idle connection holds less.

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

/** Engine.IO's request for a WebSocket session, with the `ws` socket the upgrade made. */
type EngineRequest = ConstructorParameters<typeof Transport>[0] & { websocket?: unknown };
type EnginePacket = Parameters<Transport['send']>[0][number];
type WriteCallback = (err?: Error) => void;

/** The transport of a `ws` socket, as the shared listeners find it (one property, not a closure). */
const TRANSPORT = Symbol('engine.io transport');

/** What the transport uses of a `ws` WebSocket. */
interface WsSocket {
  [TRANSPORT]: LeanWebSocketTransport;
  on(event: 'message', listener: (this: WsSocket, data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close', listener: (this: WsSocket) => void): void;
  on(event: 'error', listener: (this: WsSocket, err: Error) => void): void;
  rawListeners(event: 'error'): unknown[];
  removeListener(event: 'error', listener: never): void;
  send(data: unknown, cb: WriteCallback | undefined): void;
  close(): void;
  /** `ws` internals: the frame sender (pre-encoded broadcast frames) and the frame receiver. */
  _sender?: { sendFrame?(frame: unknown, cb: WriteCallback | undefined): void };
  _receiver?: { _mask?: unknown; _buffers?: unknown[] };
  /** `ws` internals: the TCP socket the frames are written to. */
  _socket?: CorkableStream;
}

/**
 * Engine.IO's WebSocket transport (engine.io/build/transports/websocket.js), the same protocol and
 * the same behaviour, without the seven functions of its own each session holds there: four write
 * callbacks made in its constructor, and three listeners on the `ws` socket (a closure and two bound
 * functions). Here the `ws` listeners are shared by every session and find their transport through
 * one property on the socket, and a write's callbacks are made per `send`, to be collected once the
 * frames are written. An idle session holds none of them (memory per idle connection,
 * docs/benchmarks.md).
 */
export class LeanWebSocketTransport extends Transport implements HeldWritesOwner {
  /** As Engine.IO's: the server sets it from its `perMessageDeflate` option. */
  perMessageDeflate: unknown = null;
  private readonly socket: WsSocket;
  /** Sends whose last frame is not written yet. */
  private sendsInFlight = 0;
  /** Whether this turn's frames are held to go out in one write (`holdWritesThisTurn`). */
  private holdingWrites = false;

  constructor(req: EngineRequest) {
    super(req);
    this.socket = req.websocket as WsSocket;
    this.socket[TRANSPORT] = this;
    forgetUpgradeErrorListener(this.socket);
    this.socket.on('message', onSocketMessage);
    this.socket.on('close', onSocketClose);
    this.socket.on('error', onSocketError);
    this.writable = true;
  }

  get name(): string {
    return 'websocket';
  }

  get handlesUpgrades(): boolean {
    return true;
  }

  /**
   * Writes `packets` as frames. Engine.IO hands a transport its next packets once the last send's
   * frames are written (`drain`), and buffers them until then; here the frames of one turn go out in
   * one write instead (see `holdWritesThisTurn`): while the socket's writes are held, the transport
   * stays writable, so every packet of the turn joins them. Once they are let go, it is writable
   * again when every send's frames are written, as Engine.IO's is. Each send still ends in one
   * `drain` (Engine.IO runs one send's callbacks per `drain`).
   */
  send(packets: EnginePacket[]): void {
    if (packets.length === 0) return;
    this.writable = false;
    this.sendsInFlight++;
    const tcp = this.socket._socket;
    if (tcp && !this.holdingWrites) {
      this.holdingWrites = true;
      holdWritesThisTurn(tcp, this);
    }
    const sender = this.socket._sender;
    // Only the last frame's write is awaited: a failed write fails every write after it too.
    const last = packets.length - 1;
    for (let i = 0; i <= last; i++) {
      const packet = packets[i]!;
      const done = i === last ? this.sentCallback() : undefined;
      // A broadcast frame Socket.IO already encoded with `ws`'s Sender.frame() (see Engine.IO's).
      const frame = (packet.options as { wsPreEncodedFrame?: unknown } | undefined)?.wsPreEncodedFrame;
      if (!this.perMessageDeflate && frame !== undefined && typeof sender?.sendFrame === 'function') {
        sender.sendFrame(frame, done);
      } else {
        this.parser.encodePacket(packet, this.supportsBinary, (data: unknown) =>
          this.socket.send(data, done),
        );
      }
    }
    // Frames written while the socket is held only join the turn's write: take more.
    if (this.holdingWrites) this.writable = true;
  }

  /** The turn's frames are let go: writable once they are written, as after any send. */
  writesReleased(): void {
    this.holdingWrites = false;
    this.writable = this.sendsInFlight === 0;
  }

  /** A send's last write callback (made per send, so an idle session holds none). */
  private sentCallback(): WriteCallback {
    return (err) => this.sent(err);
  }

  private sent(err: Error | undefined): void {
    this.sendsInFlight--;
    if (err) return this.onError('write error', err.stack);
    this.emit('drain');
    if (this.sendsInFlight > 0 && !this.holdingWrites) return;
    this.writable = true;
    this.emit('ready');
  }

  /**
   * Engine.IO listens for `headers` on each new transport (a closure per session) to pass a polling
   * response's headers on; a WebSocket transport never emits it, so that listener is not kept.
   */
  override on(event: string | symbol, listener: Parameters<Transport['on']>[1]): this {
    return event === 'headers' ? this : super.on(event, listener);
  }

  doClose(fn?: () => void): void {
    this.socket.close();
    fn?.();
  }

  /** A text or binary message from the client (the shared `message` listener). */
  received(data: Buffer, isBinary: boolean): void {
    this.onData(isBinary ? data : data.toString());
  }

  closed(): void {
    this.onClose();
  }

  failed(err: Error): void {
    this.onError(err as unknown as string);
  }
}

/**
 * Engine.IO listens for errors on a new WebSocket until its transport takes over; for a session
 * opened straight over WebSocket (no upgrade) it never removes that no-op listener, a function of
 * each session's own. The transport's error listener takes over here, so that one can go.
 */
function forgetUpgradeErrorListener(ws: WsSocket): void {
  const placeholder = ws
    .rawListeners('error')
    .find((fn) => (fn as { name?: string }).name === 'onUpgradeError');
  if (placeholder) ws.removeListener('error', placeholder as never);
}

function onSocketMessage(this: WsSocket, data: Buffer, isBinary: boolean): void {
  // `ws` keeps the last frame's masking key as a view into the TCP chunk it came in, so an idle
  // connection would hold that whole chunk (its CONNECT frame, token and all) until the next frame.
  // The key is read only while the frame is unmasked, before this event; each frame sets its own.
  // Its list of unread TCP chunks, empty once a chunk's last frame is read, still has the room for 16
  // it took at the first chunk; an empty one of its own takes none (the next chunk grows it again).
  const receiver = this._receiver;
  if (receiver) {
    receiver._mask = undefined;
    if (receiver._buffers?.length === 0) receiver._buffers = [];
  }
  this[TRANSPORT].received(data, isBinary);
}

function onSocketClose(this: WsSocket): void {
  this[TRANSPORT].closed();
}

function onSocketError(this: WsSocket, err: Error): void {
  this[TRANSPORT].failed(err);
}

/**
 * Makes `engine` open WebSocket sessions (and upgrades to WebSocket) on `LeanWebSocketTransport`;
 * long polling stays Engine.IO's. `createTransport` is the hook Engine.IO's own servers override.
 */
export function useLeanWebSocketTransport(engine: object): void {
  const server = engine as { createTransport(name: string, req: EngineRequest): unknown };
  const engineTransport = server.createTransport.bind(server);
  server.createTransport = (name, req) =>
    name === 'websocket' ? new LeanWebSocketTransport(req) : engineTransport(name, req);
}
