import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import type { ClientEvents, ServerEvents, SessionInfo } from '../../shared';

export type EdgeSocket = Socket<ServerEvents, ClientEvents>;

const open: { close(): void }[] = [];

/** `MF-CF-Blob`: how a real client tells Miniflare what `request.cf` is (Cloudflare sets it in production). */
export function cfAt(lat: number, lon: number, continent = 'XX'): Record<string, string> {
  return {
    'MF-CF-Blob': JSON.stringify({ latitude: String(lat), longitude: String(lon), continent, country: 'XX' }),
  };
}

export interface EdgeClientOptions {
  transports?: ('websocket' | 'polling')[];
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

/** A socket.io-client through the edge; resolves with the `session` event (where it landed). */
export async function connectThroughEdge(
  url: string,
  token: string,
  options: EdgeClientOptions = {},
): Promise<{ socket: EdgeSocket; session: SessionInfo }> {
  const socket: EdgeSocket = io(url, {
    auth: { token },
    transports: options.transports ?? ['websocket'],
    extraHeaders: options.headers,
    query: options.query,
    reconnection: false,
    forceNew: true,
  });
  open.push(socket);
  const session = await new Promise<SessionInfo>((resolve, reject) => {
    socket.once('session', resolve);
    socket.once('connect_error', reject);
  });
  return { socket, session };
}

/** The `connect_error` message of a handshake through the edge. */
export function handshakeErrorThroughEdge(url: string, token: string, headers?: Record<string, string>) {
  const socket = io(url, {
    auth: { token },
    transports: ['websocket'],
    extraHeaders: headers,
    reconnection: false,
    forceNew: true,
  });
  open.push(socket);
  return new Promise<string>((resolve, reject) => {
    socket.once('connect', () => reject(new Error('handshake unexpectedly succeeded')));
    socket.once('connect_error', (err) => resolve(err.message));
  });
}

/**
 * A raw WebSocket speaking Engine.IO v4 / Socket.IO v5 by hand through the edge: open packet,
 * CONNECT with the token, and the packets that follow (pings answered).
 */
export async function rawSocketIo(url: string, token: string, headers: Record<string, string>) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, { headers });
  open.push({ close: () => ws.terminate() });
  const packets: string[] = [];
  ws.on('message', (data) => {
    const text = data.toString();
    if (text === '2') ws.send('3');
    else packets.push(text);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
  return {
    ws,
    packets,
    send: (packet: string) => ws.send(packet),
    async next(prefix: string, timeoutMs = 10_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = packets.findIndex((p) => p.startsWith(prefix));
        if (index >= 0) return packets.splice(index, 1)[0]!;
        if (Date.now() > deadline) throw new Error(`no packet ${prefix} (got ${packets.join(' | ')})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    token,
  };
}

export function closeEdgeClients(): void {
  for (const client of open.splice(0)) client.close();
}
