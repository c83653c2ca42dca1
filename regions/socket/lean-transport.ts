import { Transport } from 'engine.io';

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
  send(data: unknown, cb: WriteCallback): void;
  close(): void;
  /** `ws` internals: the frame sender (pre-encoded broadcast frames) and the frame receiver. */
  _sender?: { sendFrame?(frame: unknown, cb: WriteCallback): void };
  _receiver?: { _mask?: unknown; _buffers?: unknown[] };
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
export class LeanWebSocketTransport extends Transport {
  /** As Engine.IO's: the server sets it from its `perMessageDeflate` option. */
  perMessageDeflate: unknown = null;
  private readonly socket: WsSocket;

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

  send(packets: EnginePacket[]): void {
    this.writable = false;
    const onSent: WriteCallback = (err) => {
      if (err) this.onError('write error', err.stack);
    };
    const onSentLast: WriteCallback = (err) => {
      if (err) return this.onError('write error', err.stack);
      this.emit('drain');
      this.writable = true;
      this.emit('ready');
    };
    const sender = this.socket._sender;
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i]!;
      const done = i + 1 === packets.length ? onSentLast : onSent;
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
