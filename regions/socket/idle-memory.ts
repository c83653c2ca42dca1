import type { RegionIo } from '../publish';
import type { RegionSocket } from './region-socket';

/*
 * What an idle connection holds beyond what Socket.IO needs (https://socket.io/docs/v4/memory-usage/,
 * and heap snapshots of idle connections: docs/benchmarks.md, "Memory per idle connection").
 */

/**
 * What `socket.handshake` is once the connect is admitted: the middleware has read the token, and
 * nothing later reads the handshake, so no connection keeps its request's headers, URL, query or
 * token (about 1 KiB each).
 */
const RELEASED_HANDSHAKE = Object.freeze({
  headers: Object.freeze({}),
  time: '',
  address: '',
  xdomain: false,
  secure: false,
  issued: 0,
  url: '',
  query: Object.freeze({}),
  auth: Object.freeze({}),
});

/**
 * Memory per idle connection (https://socket.io/docs/v4/memory-usage/): once the Socket.IO connect is
 * admitted (the middleware has read what it needs from the handshake), the Engine.IO session drops
 * its reference to the first HTTP request, and the Socket.IO socket its copy of the handshake.
 * Engine.IO also keeps a WebSocket upgrade's response object, which holds that request, alive for
 * the whole session (a `close` listener on the TCP socket), so the request is let go of there too.
 * (Engine.IO's WebSocket listeners are replaced by shared ones: transport.ts.)
 */
export function releaseHandshakeRequests(io: RegionIo): void {
  const upgradeResponses = new WeakMap<object, { req?: unknown }>();
  io.engine.use((req: object, res: UpgradeResponse, next: () => void) => {
    upgradeResponses.set(req, res);
    if (!('statusCode' in res)) forgetUpgradeResponse(res);
    next();
  });
  io.on('connection', (socket: RegionSocket) => {
    const conn = socket.conn as unknown as { request: object | null };
    const upgrade = conn.request && upgradeResponses.get(conn.request);
    if (upgrade && !('statusCode' in upgrade)) upgrade.req = null;
    conn.request = null;
    (socket as unknown as { handshake: unknown }).handshake = RELEASED_HANDSHAKE;
  });
}

/** Engine.IO's stand-in response for a WebSocket upgrade (or the real one for a polling request). */
interface UpgradeResponse {
  req?: unknown;
  socket?: { rawListeners(event: 'close'): unknown[]; removeListener(event: 'close', fn: never): void };
}

/**
 * Engine.IO's upgrade response re-emits its TCP socket's `close` (for logging middlewares, none
 * here) through a listener it adds in its constructor, just before the middlewares run: the last
 * `close` listener then. Removing it lets the response go once the upgrade is done, instead of
 * keeping it (and its emitter) for the whole session.
 */
function forgetUpgradeResponse(res: UpgradeResponse): void {
  const closeListeners = res.socket?.rawListeners('close') ?? [];
  const own = closeListeners[closeListeners.length - 1];
  if (own) res.socket?.removeListener('close', own as never);
}

/**
 * A listener list that grows from empty takes room for 16 entries at its first one; the lists an
 * idle connection keeps for good hold one or two: Socket.IO's catch-all listeners (the node's one
 * dispatcher, `onAny`) and Engine.IO's clean-ups of the session's transport (set once for a
 * WebSocket session, again only at an upgrade from long polling). Each is replaced by a copy of its
 * own length, once the connection's handlers are attached. (A renamed private field leaves the
 * lists as they were: only their size depends on these names.)
 */
export function fitListenerLists(socket: RegionSocket): void {
  const io = socket as unknown as { _anyListeners?: unknown[] };
  if (Array.isArray(io._anyListeners)) io._anyListeners = io._anyListeners.slice();
  const engine = socket.conn as unknown as { cleanupFn?: unknown[] };
  if (Array.isArray(engine.cleanupFn)) engine.cleanupFn = engine.cleanupFn.slice();
}
