import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
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
async function startServer(): Promise<Started> {
  const httpServer = createServer();
  const io = new Server(httpServer, { parser: preEncodedParser, pingInterval: 200, pingTimeout: 2_000 });
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
});
