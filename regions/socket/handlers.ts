import type { Socket } from 'socket.io';
import type { z } from 'zod';
import {
  ProtocolError,
  encodedSize,
  joinPayload,
  leavePayload,
  parsePayload,
  presencePayload,
  publishPayload,
  historyPayload,
  roomAllowed,
  type ClientEvents,
  type Principal,
  type ServerEvents,
} from '../../shared';
import type { TokenBucket } from '../limits';
import type { RegionServices } from '../services';

export interface SocketData {
  principal: Principal;
  publishBucket: TokenBucket;
}

export type RegionSocket = Socket<ClientEvents, ServerEvents, Record<string, never>, SocketData>;

type Handler<S extends z.ZodType> = (socket: RegionSocket, payload: z.infer<S>) => Promise<object>;

/** A check that runs before the payload is validated: cheap limits (rate, size) come first. */
type Precheck = (socket: RegionSocket, payload: unknown) => void;

/**
 * Wraps an event handler: validates the payload, answers `{ ok: true, ... }` or `{ ok: false, error }`
 * through the ack, and never lets a bad payload, a missing ack or an internal error escape.
 */
function on<S extends z.ZodType>(
  socket: RegionSocket,
  services: RegionServices,
  event: keyof ClientEvents,
  schema: S,
  handler: Handler<S>,
  precheck?: Precheck,
): void {
  socket.on(event, async (...args: unknown[]) => {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as (res: unknown) => void) : undefined;
    const payload = args.length > (ack ? 1 : 0) ? args[0] : undefined;
    try {
      precheck?.(socket, payload);
      const result = await handler(socket, parsePayload(schema, payload));
      ack?.({ ok: true, ...result });
    } catch (err) {
      const error = services.toClientError(err, { event, socket: socket.id });
      ack?.({ ok: false, error });
    }
  });
}

/** What the socket handlers enforce per connection. */
export interface SocketLimits {
  maxPayloadBytes: number;
}

export function registerSocketHandlers(
  socket: RegionSocket,
  services: RegionServices,
  limits: SocketLimits,
): void {
  const { principal } = socket.data;

  on(socket, services, 'join', joinPayload, async (s, { room, since }) => {
    mayAccess(principal, room);
    // Join first, then read what was missed: a message delivered in between is then both live and in
    // `missed` (the SDK drops the repeat by id) instead of in neither.
    await s.join(room);
    const { missed } = await services.recovery.missedSince(room, since);
    await services.presence.joined(room, s.id, principal.user);
    return { room, missed };
  });

  on(socket, services, 'leave', leavePayload, async (s, { room }) => {
    if (s.rooms.has(room)) {
      await s.leave(room);
      await services.presence.left(room, s.id, principal.user);
    }
    return {};
  });

  on(
    socket,
    services,
    'publish',
    publishPayload,
    (s, { room, data, id, ephemeral }) =>
      services.publisher.publish({
        principal,
        room,
        data,
        id,
        ephemeral,
        transport: 'socket',
        exceptSocketId: s.id,
      }),
    (s, payload) => {
      if (!s.data.publishBucket.take()) {
        throw new ProtocolError('rate_limited', 'too many publishes on this connection; slow down');
      }
      checkDataSize(payload, limits.maxPayloadBytes);
    },
  );

  on(socket, services, 'history', historyPayload, async (_s, { room, before, limit }) => {
    mayAccess(principal, room);
    return { messages: await services.history.page(room, { before, limit }) };
  });

  on(socket, services, 'presence', presencePayload, async (_s, { room }) => {
    mayAccess(principal, room);
    return { members: await services.presence.members(room) };
  });

  socket.on('disconnecting', () => {
    const rooms = [...socket.rooms].filter((room) => room !== socket.id);
    void services.presence.disconnected(rooms, socket.id, principal.user);
  });
}

/**
 * Refuses a `data` over the size limit before it is validated. The packet itself is bounded by
 * Socket.IO's `maxHttpBufferSize` (the limit plus a small envelope), so this stringify is too.
 */
function checkDataSize(payload: unknown, maxBytes: number): void {
  if (typeof payload !== 'object' || payload === null || !('data' in payload)) return;
  let size: number;
  try {
    size = encodedSize(payload.data);
  } catch {
    throw new ProtocolError('invalid', 'data: not a JSON value');
  }
  if (size > maxBytes)
    throw new ProtocolError('too_large', `data is ${size} bytes; the limit is ${maxBytes}`);
}

function mayAccess(principal: Principal, room: string): void {
  if (!roomAllowed(principal.rooms, room)) throw new ProtocolError('forbidden', `not allowed in ${room}`);
}
