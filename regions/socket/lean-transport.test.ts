import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../tests/support/until';
import { LeanWebSocketTransport, preEncodedParser, useLeanWebSocketTransport } from './transport';

interface Started {
  io: Server;
  url: string;
  connections: ServerSocket[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A Socket.IO server as the node makes it: its parser and the lean WebSocket transport. */
async function startServer(pingInterval = 200): Promise<Started> {
  const httpServer = createServer();
  const io = new Server(httpServer, { parser: preEncodedParser, pingInterval, pingTimeout: 2_000 });
  useLeanWebSocketTransport(io.engine);
  const connections: ServerSocket[] = [];
  io.on('connection', (socket) => {
    connections.push(socket);
    socket.on('echo', (payload: unknown, ack: (answer: unknown) => void) => ack(payload));
    socket.on('join', (room: string, ack: () => void) => {
      void socket.join(room);
      ack();
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => void io.close(() => resolve())));
  return { io, url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`, connections };
}

async function client(url: string, transports: ('websocket' | 'polling')[] = ['websocket']): Promise<Socket> {
  const socket = connect(url, { transports, reconnection: false, forceNew: true });
  cleanups.push(async () => void socket.disconnect());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

const engineTransport = (socket: ServerSocket) =>
  (socket.conn as unknown as { transport: Record<string, unknown> & { socket: WsInternals } }).transport;
interface WsInternals {
  listeners(event: string): unknown[];
  _receiver: { _mask?: unknown };
  _socket: TcpInternals;
}
/** Node's stream internals a TCP socket writes through: one call per write to the kernel. */
interface TcpInternals {
  _write(...args: unknown[]): void;
  _writev(...args: unknown[]): void;
}

/** Counts the writes the server's TCP socket of `socket` makes. */
function countWrites(socket: ServerSocket): { count: number } {
  const tcp = engineTransport(socket).socket._socket;
  const counter = { count: 0 };
  for (const method of ['_write', '_writev'] as const) {
    const write = tcp[method].bind(tcp);
    tcp[method] = (...args) => {
      counter.count++;
      write(...args);
    };
  }
  return counter;
}

function collect(socket: Socket, event: string, count: number): Promise<unknown[]> {
  const got: unknown[] = [];
  return new Promise((resolve) => {
    socket.on(event, (value: unknown) => {
      got.push(value);
      if (got.length === count) resolve(got);
    });
  });
}

describe('the lean WebSocket transport', () => {
  it('carries events, acks, binary and large payloads both ways, and room broadcasts', async () => {
    const { io, url, connections } = await startServer();
    const [a, b] = [await client(url), await client(url)];
    expect(engineTransport(connections[0]!)).toBeInstanceOf(LeanWebSocketTransport);

    const large = { text: 'é✓'.repeat(50_000) };
    expect(await a.emitWithAck('echo', large)).toEqual(large);
    const bytes = await a.emitWithAck('echo', Buffer.from([0, 1, 2, 255]));
    expect(Buffer.from(bytes as ArrayBuffer)).toEqual(Buffer.from([0, 1, 2, 255]));

    await Promise.all([a.emitWithAck('join', 'r'), b.emitWithAck('join', 'r')]);
    const heard = [a, b].map((s) => new Promise((resolve) => s.once('news', resolve)));
    io.to('r').emit('news', { n: 1 });
    expect(await Promise.all(heard)).toEqual([{ n: 1 }, { n: 1 }]);
  });

  it('keeps a session through heartbeats and tells the server when the client leaves', async () => {
    const { url, connections } = await startServer();
    const socket = await client(url);
    // Several ping/pong rounds (every 200 ms) go through the transport.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await socket.emitWithAck('echo', 'still here')).toBe('still here');
    const reason = new Promise((resolve) => connections[0]!.once('disconnect', resolve));
    socket.disconnect();
    expect(await reason).toBe('client namespace disconnect');

    const other = await client(url);
    const gone = new Promise((resolve) => connections[1]!.once('disconnect', resolve));
    other.io.engine.close();
    expect(await gone).toBe('transport close');
  });

  it('takes over a long-polling session that upgrades to WebSocket', async () => {
    const { url, connections } = await startServer();
    const socket = await client(url, ['polling', 'websocket']);
    const conn = connections[0]!.conn;
    if (conn.transport.name !== 'websocket') await new Promise((resolve) => conn.once('upgrade', resolve));
    expect(engineTransport(connections[0]!)).toBeInstanceOf(LeanWebSocketTransport);
    expect(await socket.emitWithAck('echo', { after: 'upgrade' })).toEqual({ after: 'upgrade' });
  });

  it('holds no functions of its own per idle session, nor the last frame the client sent', async () => {
    const { url, connections } = await startServer();
    await client(url);
    await client(url);
    const [first, second] = connections.map(engineTransport);
    for (const transport of [first!, second!]) {
      expect(Object.values(transport).filter((value) => typeof value === 'function')).toEqual([]);
      // The CONNECT frame (a token, in the node) is not kept through the frame's masking key.
      expect(transport.socket._receiver._mask).toBeUndefined();
    }
    for (const event of ['message', 'close', 'error'])
      expect(first!.socket.listeners(event)).toEqual(second!.socket.listeners(event));
  });

  it('writes the frames a connection gets in one turn in one write, in order, and then the next', async () => {
    // No heartbeat during the test: each ping would be a write of its own.
    const { io, url, connections } = await startServer(60_000);
    const socket = await client(url);
    await socket.emitWithAck('join', 'r');
    const server = connections[0]!;
    const writes = countWrites(server);
    const first = collect(socket, 'news', 50);
    const sent: number[] = [];
    for (let n = 0; n < 50; n++) {
      if (n % 2 === 0) io.to('r').emit('news', n);
      // Engine.IO's send callbacks (one per send, run on `drain`) still all run.
      else server.conn.send(`2["news",${n}]`, {}, () => void sent.push(n));
    }
    expect(await first).toEqual([...Array(50).keys()]);
    expect(writes.count).toBe(1);
    await until(() => sent.length === 25, 'every send callback');
    expect(sent).toEqual([...Array(25).keys()].map((i) => 2 * i + 1));

    // Writable again once those are written: a later turn's frames go out, and in one write.
    const second = collect(socket, 'later', 3);
    for (let n = 0; n < 3; n++) io.to('r').emit('later', n);
    expect(await second).toEqual([0, 1, 2]);
    expect(writes.count).toBe(2);
    expect(await socket.emitWithAck('echo', 'still here')).toBe('still here');
  });

  it('after the turn, takes no more frames until the held ones are written (a client that does not read)', async () => {
    const { io, url, connections } = await startServer(60_000);
    const socket = await client(url);
    await socket.emitWithAck('join', 'r');
    const conn = connections[0]!.conn;
    // The client stops reading: what the node writes stays in its socket once the kernel's buffers fill.
    const tcp = (
      socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }
    ).ws._socket;
    tcp.pause();
    cleanups.push(async () => tcp.resume());
    const big = 'x'.repeat(1 << 20);
    const heard = collect(socket, 'big', 12);
    for (let n = 0; n < 8; n++) io.to('r').emit('big', big);
    await new Promise((resolve) => setImmediate(resolve));
    expect(conn.transport.writable).toBe(false);
    // Later emits wait in Engine.IO's buffer, not in the socket.
    for (let n = 0; n < 4; n++) io.to('r').emit('big', big);
    expect((conn as unknown as { writeBuffer: unknown[] }).writeBuffer).toHaveLength(4);
    tcp.resume();
    expect((await heard).every((payload) => payload === big)).toBe(true);
    await until(() => conn.transport.writable, 'writable once written');
  });
});
