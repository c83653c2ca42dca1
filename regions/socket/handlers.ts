import { z } from 'zod';
import {
  ProtocolError,
  authPayload,
  jsonValueProblem,
  historyPayload,
  joinPayload,
  leavePayload,
  parsePayload,
  presencePayload,
  publishPayload,
  roomAllowed,
  type ClientEvents,
  type JsonValue,
  type TokenPrincipal,
  type TokenVerifier,
} from '../../shared';
import { answerBytes, jsonArray } from '../history/stored';
import type { RegionServices } from '../services';
import type { SessionExpiry } from './expiry';
import { PreEncodedJson } from './transport';
import { DataText } from './publish-decoder';
import type { RegionSocket } from './region-socket';

/** What the socket handlers enforce per connection. */
export interface SocketLimits {
  maxPayloadBytes: number;
  maxRoomsPerConnection: number;
  maxReadsPerConnection: number;
  maxAnswerBytes: number;
}

/** A handler's answer: the fields after `ok: true`, or the whole answer already encoded. */
type Answer = object | PreEncodedJson;
type Handler<S extends z.ZodType> = (
  socket: RegionSocket,
  payload: z.infer<S>,
  /** What the precheck returned (the publish precheck: `data` as the JSON text it measured). */
  checked: string | undefined,
) => Promise<Answer>;
/**
 * A check that runs before the payload is validated: cheap limits (rate, size) come first. What it
 * returns is handed to the handler, so work it did (encoding `data` to measure it) is not repeated.
 */
type Precheck = (socket: RegionSocket, payload: unknown) => string | undefined;
type Listener = (this: RegionSocket, ...args: unknown[]) => void;

/**
 * The node's socket event handlers, built once: every listener is shared by all sockets (it gets
 * its socket as `this`), so an idle socket holds no closures of its own.
 */
export function socketHandlers(deps: {
  services: RegionServices;
  limits: SocketLimits;
  verifyToken: TokenVerifier;
  expiry: SessionExpiry;
}): (socket: RegionSocket) => void {
  const { services, limits, expiry } = deps;

  /**
   * Wraps a handler: runs the precheck, validates the payload, answers `{ ok: true, ... }` or
   * `{ ok: false, error }` through the ack, and never lets a bad payload, a missing ack or an
   * internal error escape.
   */
  function listener<S extends z.ZodType>(
    event: keyof ClientEvents,
    schema: S,
    handler: Handler<S>,
    precheck: Precheck = takeRequest,
  ): Listener {
    return async function onEvent(...args) {
      const last = args[args.length - 1];
      const ack = typeof last === 'function' ? (last as (res: unknown) => void) : undefined;
      const payload = args.length > (ack ? 1 : 0) ? args[0] : undefined;
      try {
        const checked = precheck(this, payload);
        const result = await handler(this, parsePayload(schema, payload), checked);
        ack?.(result instanceof PreEncodedJson ? result : { ok: true, ...result });
      } catch (err) {
        ack?.({ ok: false, error: services.toClientError(err, { event, socket: this.id }) });
      }
    };
  }

  const listeners: [string, Listener][] = [
    ['join', listener('join', joinPayload, join)],
    ['leave', listener('leave', leavePayload, leave)],
    ['publish', listener('publish', socketPublishPayload, publish, publishPrecheck)],
    ['history', listener('history', historyPayload, history)],
    ['presence', listener('presence', presencePayload, presence)],
    ['auth', listener('auth', authPayload, refreshToken)],
  ];

  async function join(s: RegionSocket, { room, since }: z.infer<typeof joinPayload>) {
    mayAccess(s.data.principal, room);
    // Every socket is alone in a room named by its id; no one else may join it.
    if (s.nsp.sockets.has(room)) throw new ProtocolError('forbidden', 'not a room');
    const already = s.rooms.has(room);
    // `s.rooms` holds the socket's own room too.
    if (!already && s.rooms.size - 1 >= limits.maxRoomsPerConnection) {
      throw new ProtocolError(
        'rate_limited',
        `in ${limits.maxRoomsPerConnection} rooms already; leave one first`,
      );
    }
    if (since) startRead(s);
    try {
      // Join first, then read what was missed: a message delivered in between is then both live and
      // in `missed` (the SDK drops the repeat by id) instead of in neither.
      if (!already) await s.join(room);
      // Over its answer bytes, the join still succeeds; the client pages `history` later.
      const mayRead = since !== undefined && s.data.answerBucket.hasAny();
      const answer = mayRead
        ? await services.recovery.missedSince(room, since, limits.maxAnswerBytes)
        : undefined;
      const missed = answer?.missed ?? [];
      s.data.answerBucket.spend(answerBytes(missed));
      // Not recovered: history could not say (retention, Postgres down), the answer was cut, or it
      // was not read at all because this connection is over its answer bytes.
      const recovered = (since === undefined || mayRead) && (answer?.complete ?? true);
      // Rejoining a room one is in changes nothing and announces nothing.
      if (!already) await services.presence.joined(room, s.id, s.data.principal.user, s.data.principal.info);
      // The stored envelopes go out as the JSON they were read as (see PreEncodedJson).
      return new PreEncodedJson(
        `{"ok":true,"room":${JSON.stringify(room)},"missed":${jsonArray(missed)},"recovered":${recovered}}`,
      );
    } finally {
      if (since) s.data.reads--;
    }
  }

  async function leave(s: RegionSocket, { room }: z.infer<typeof leavePayload>) {
    if (s.rooms.has(room) && room !== s.id) {
      await s.leave(room);
      await services.presence.left(room, s.data.principal.user);
    }
    return {};
  }

  function publish(
    s: RegionSocket,
    { room, data, id, ephemeral }: z.infer<typeof socketPublishPayload>,
    dataJson: string | undefined,
  ) {
    const { principal } = s.data;
    const request = { principal, room, id, ephemeral, transport: 'socket', exceptSocketId: s.id } as const;
    // Data that came in as checked text (PublishDecoder) goes on as that text, never decoded.
    return services.publisher.publish(
      data instanceof DataText ? { ...request, dataJson: data.json } : { ...request, data, dataJson },
    );
  }

  function publishPrecheck(s: RegionSocket, payload: unknown): string | undefined {
    if (!s.data.publishBucket.take()) {
      throw new ProtocolError('rate_limited', 'too many publishes on this connection; slow down');
    }
    return checkDataSize(payload, limits.maxPayloadBytes);
  }

  async function history(s: RegionSocket, { room, before, limit }: z.infer<typeof historyPayload>) {
    mayAccess(s.data.principal, room);
    if (!s.data.answerBucket.hasAny()) {
      throw new ProtocolError('rate_limited', 'too many history bytes on this connection; slow down');
    }
    startRead(s);
    try {
      // The newest of the page that fit are kept: the client pages on from the oldest it got.
      const messages = await services.history.page(room, { before, limit }, limits.maxAnswerBytes);
      s.data.answerBucket.spend(answerBytes(messages));
      return new PreEncodedJson(`{"ok":true,"messages":${jsonArray(messages)}}`);
    } finally {
      s.data.reads--;
    }
  }

  async function presence(s: RegionSocket, { room }: z.infer<typeof presencePayload>) {
    mayAccess(s.data.principal, room);
    return services.presence.members(room);
  }

  async function refreshToken(s: RegionSocket, { token }: z.infer<typeof authPayload>) {
    const next = await deps.verifyToken(token);
    if (services.users.isRevoked(next.user, next.iat))
      throw new ProtocolError('unauthorized', 'token revoked');
    const current = s.data.principal;
    if (next.user !== current.user) throw new ProtocolError('forbidden', 'a token for another user');
    const left = [...s.rooms].filter((room) => room !== s.id && !roomAllowed(next.rooms, room));
    for (const room of left) {
      await s.leave(room);
      await services.presence.left(room, current.user);
    }
    expiry.untrack(s);
    s.data.principal = next;
    expiry.track(s, next.exp);
    return { exp: next.exp, left };
  }

  function startRead(s: RegionSocket): void {
    if (s.data.reads >= limits.maxReadsPerConnection) {
      throw new ProtocolError('rate_limited', 'too many reads at once on this connection');
    }
    s.data.reads++;
  }

  // One listener for every client event (Socket.IO's `onAny`), dispatching by name: a socket holds
  // one entry in its any-listeners instead of one per event in its emitter.
  const byEvent = new Map(listeners);
  const onClientEvent: Listener = function onAny(event, ...args) {
    const known = typeof event === 'string' ? byEvent.get(event) : undefined;
    if (known) return known.apply(this, args);
    const ack = args[args.length - 1];
    if (typeof ack === 'function') ack({ ok: false, error: { code: 'invalid', message: 'unknown event' } });
  };

  const onDisconnecting: Listener = function onDisconnecting() {
    expiry.untrack(this);
    const rooms = [...this.rooms].filter((room) => room !== this.id);
    void services.presence.disconnected(rooms, this.data.principal.user);
  };

  return function attach(socket) {
    socket.onAny(onClientEvent);
    socket.on('disconnecting', onDisconnecting);
    expiry.track(socket, socket.data.principal.exp);
  };
}

function takeRequest(s: RegionSocket): undefined {
  if (!s.data.requestBucket.take()) {
    throw new ProtocolError('rate_limited', 'too many requests on this connection; slow down');
  }
  return undefined;
}

/**
 * A socket publish: `data` is a value, or the text PublishDecoder scanned (checked by that scan).
 * Refused the same way either way, with the same messages.
 */
const socketPublishPayload = publishPayload.extend({
  data: z.custom<JsonValue | DataText>().superRefine((value, ctx) => {
    const problem = value instanceof DataText ? value.problem : jsonValueProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
});

/**
 * Refuses a `data` over the size limit before it is validated; returns its JSON text, which the
 * publisher then uses as it is. The packet itself is bounded by Socket.IO's `maxHttpBufferSize`
 * (the limit plus a small envelope), so this stringify is too; data the decoder scanned is measured
 * as the text it came in.
 */
function checkDataSize(payload: unknown, maxBytes: number): string | undefined {
  if (typeof payload !== 'object' || payload === null || !('data' in payload)) return undefined;
  let json: string | undefined;
  try {
    json = payload.data instanceof DataText ? payload.data.json : JSON.stringify(payload.data);
  } catch {
    throw new ProtocolError('invalid', 'data: not a JSON value');
  }
  if (json === undefined) return undefined;
  const size = Buffer.byteLength(json, 'utf8');
  if (size > maxBytes)
    throw new ProtocolError('too_large', `data is ${size} bytes; the limit is ${maxBytes}`);
  return json;
}

function mayAccess(principal: TokenPrincipal, room: string): void {
  if (!roomAllowed(principal.rooms, room)) throw new ProtocolError('forbidden', `not allowed in ${room}`);
}
