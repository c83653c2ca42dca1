/**
 * The benchmark's peers: a plain Socket.IO 4 server as its own documentation recommends it, and
 * nothing of this platform (no outbox, limits, history, presence or bus). It speaks the events the
 * load process uses (`join`, `leave`, `publish`, `history`, `presence` with acks; `message` to the
 * room), so the same load drives all three systems. Which adapter carries broadcasts between nodes is
 * the only difference between `seeds` (seeds-server.ts) and `streams` (streams-server.ts).
 *
 * Settings, after https://socket.io/docs/v4/performance-tuning/ and /server-options/: WebSocket only
 * (no long-polling upgrade dance), no permessage-deflate, `maxHttpBufferSize` just above the largest
 * envelope (64 KiB of data plus its frame), the default ping interval and timeout, and the handshake's
 * HTTP request dropped once the session exists (https://socket.io/docs/v4/memory-usage/).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import { Server, type ServerOptions, type Socket } from 'socket.io';

/** The largest `data` of one envelope the peers are sized for (the contract's 64 KiB). */
const MAX_DATA_BYTES = 64 * 1024;

export interface PeerServerOptions {
  /** The adapter and any option that goes with it (connection state recovery for streams). */
  io: Partial<ServerOptions>;
  /** Resolves once the adapter's Redis connections are up. */
  ready: Promise<void>;
}

type Ack = (answer: object) => void;

interface PeerSocketData {
  user: string;
}

function ackOf(args: unknown[]): Ack {
  const last = args[args.length - 1];
  return typeof last === 'function' ? (last as Ack) : () => undefined;
}

function payloadOf(args: unknown[]): Record<string, unknown> {
  const first = args[0];
  return first && typeof first === 'object' ? (first as Record<string, unknown>) : {};
}

const refuse = (ack: Ack, message: string) => ack({ ok: false, error: { code: 'invalid', message } });

/** One handler per event, shared by every socket (no closure per socket). */
const handlers: Record<string, (socket: Socket, args: unknown[]) => void> = {
  join(socket, args) {
    const ack = ackOf(args);
    const { room } = payloadOf(args);
    if (typeof room !== 'string' || room.length === 0) return refuse(ack, 'room must be a string');
    void socket.join(room);
    ack({ ok: true, room, missed: [] });
  },
  leave(socket, args) {
    const ack = ackOf(args);
    const { room } = payloadOf(args);
    if (typeof room === 'string') void socket.leave(room);
    ack({ ok: true });
  },
  publish(socket, args) {
    const ack = ackOf(args);
    const { room, data, id } = payloadOf(args);
    if (typeof room !== 'string' || room.length === 0) return refuse(ack, 'room must be a string');
    const envelope = {
      id: typeof id === 'string' ? id : randomUUID(),
      room,
      data,
      user: (socket.data as PeerSocketData).user,
      origin: process.env.REGION ?? 'unknown',
      ts: Date.now(),
    };
    socket.to(room).emit('message', envelope);
    ack({ ok: true, id: envelope.id, ts: envelope.ts });
  },
  history(_socket, args) {
    ackOf(args)({ ok: true, messages: [] });
  },
  presence(_socket, args) {
    ackOf(args)({ ok: true, members: [], count: 0 });
  },
};

function onEvent(this: Socket, event: string, ...args: unknown[]): void {
  const handle = handlers[event];
  if (handle) handle(this, args);
  else ackOf(args)({ ok: false, error: { code: 'invalid', message: `unknown event ${event}` } });
}

/** Starts a peer node on PORT (HOST) and prints nothing but errors; SIGTERM closes it. */
export async function startPeerServer(options: PeerServerOptions): Promise<void> {
  const secret = new TextEncoder().encode(process.env.JWT_SECRET ?? '');
  const httpServer = createServer((req, res) => {
    if (req.url === '/readyz' || req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (req.url === '/metrics') {
      // The one gauge the benchmark reads, named as prom-client names it on our nodes.
      const heap = process.memoryUsage().heapUsed;
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`nodejs_heap_size_used_bytes ${heap}\n`);
    } else if (!req.url?.startsWith('/socket.io/')) {
      res.writeHead(404).end();
    }
  });
  const io = new Server(httpServer, {
    transports: ['websocket'],
    perMessageDeflate: false,
    maxHttpBufferSize: MAX_DATA_BYTES + 4 * 1024,
    pingInterval: 25_000,
    pingTimeout: 20_000,
    serveClient: false,
    ...options.io,
  });
  io.engine.on('connection', (rawSocket: { request: unknown }) => {
    rawSocket.request = null;
  });
  io.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== 'string') return next(new Error('unauthorized'));
    jwtVerify(token, secret, { algorithms: ['HS256'] }).then(
      ({ payload }) => {
        socket.data = { user: payload.sub ?? 'anonymous' } satisfies PeerSocketData;
        next();
      },
      () => next(new Error('unauthorized')),
    );
  });
  io.on('connection', (socket) => {
    socket.onAny(onEvent);
  });
  await options.ready;
  await new Promise<void>((resolve) =>
    httpServer.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', resolve),
  );
  const port = (httpServer.address() as AddressInfo).port;
  process.stderr.write(`peer node ${process.env.NODE_ID ?? ''} listening on ${port}\n`);
  process.once('SIGTERM', () => {
    void io.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  });
}
