import { io, type Socket } from 'socket.io-client';
import type { ClientEvents, Envelope, ServerEvents, SessionInfo } from '../../shared';

export type TestClient = Socket<ServerEvents, ClientEvents> & {
  /** Every `message` received, in order. */
  received: Envelope[];
  /** The `session` event of the current connection, once it arrived. */
  session?: SessionInfo;
};

const open: Socket[] = [];

/** A real socket.io-client connected to `url`; resolves once connected (rejects on connect_error). */
export async function connectClient(
  url: string,
  token: string | undefined,
  options: { transports?: ('websocket' | 'polling')[]; extraHeaders?: Record<string, string> } = {},
): Promise<TestClient> {
  const socket = io(url, {
    auth: token === undefined ? {} : { token },
    transports: options.transports ?? ['websocket'],
    extraHeaders: options.extraHeaders,
    reconnection: false,
    forceNew: true,
  }) as TestClient;
  socket.received = [];
  socket.on('message', (envelope) => socket.received.push(envelope));
  socket.on('session', (info) => (socket.session = info));
  open.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => reject(err));
  });
  return socket;
}

/** The `connect_error` message a handshake fails with. */
export async function handshakeError(
  url: string,
  auth: Record<string, unknown>,
  extraHeaders?: Record<string, string>,
): Promise<string> {
  const socket = io(url, {
    auth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    extraHeaders,
  });
  open.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('handshake unexpectedly succeeded')));
    socket.once('connect_error', (err) => resolve(err.message));
  });
}

export function closeAllClients(): void {
  for (const socket of open.splice(0)) socket.close();
}

/** Polls `condition` until it is true; throws with `what` after `timeoutMs`. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
