import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import {
  ProtocolError,
  SERVER_USER,
  broadcastBody,
  disconnectBody,
  parsePayload,
  roomNameSchema,
  serverPublishBody,
  userParamSchema,
  type Principal,
} from '../../shared';
import type { RegionServices } from '../services';

export type ApiEnv = { Variables: { principal: Principal; server: boolean } };

/** What a server API key stands for: every room, no per-user limits, `user` as the body names it. */
export const SERVER_PRINCIPAL: Principal = { user: SERVER_USER, rooms: ['*'] };

/** `reason` of `disconnected` when the call gives none. */
const DEFAULT_DISCONNECT_REASON = 'disconnected by the server';

/**
 * The server API (with `x-api-key`, checked by the `/v1` middleware): publish as the server to any
 * room, broadcast one message to up to 100 rooms, disconnect (and revoke) a user in every region.
 * A user's bearer token never reaches these powers: broadcast and disconnect answer it
 * `unauthorized`, and a publish with a bearer token goes the user's way (grants, rate limits).
 */
export function registerServerApi(
  app: Hono<ApiEnv>,
  options: { services: RegionServices; maxPayloadBytes: number },
): void {
  const { services } = options;
  const limit = (extra: number) =>
    bodyLimit({
      maxSize: options.maxPayloadBytes + extra,
      onError: () => {
        throw new ProtocolError('too_large', `body over ${options.maxPayloadBytes} bytes`);
      },
    });

  app.post('/v1/broadcast', requireServerKey, limit(16 * 1024), async (c) => {
    const body = parsePayload(broadcastBody, await jsonBody(c));
    const rooms = [...new Set(body.rooms)];
    const messages = await Promise.all(
      rooms.map(async (room) => {
        const ack = await services.publisher.publish({
          principal: SERVER_PRINCIPAL,
          room,
          data: body.data,
          ephemeral: body.ephemeral,
          server: true,
          transport: 'server',
        });
        return { room, id: ack.id, ts: ack.ts };
      }),
    );
    return c.json({ messages }, 202);
  });

  app.post('/v1/users/:user/disconnect', requireServerKey, limit(0), async (c) => {
    const user = parsePayload(userParamSchema, c.req.param('user'));
    const text = await c.req.text();
    const body = parsePayload(disconnectBody, text.trim() === '' ? {} : parseJson(text));
    try {
      await services.users.disconnectUser(
        user,
        body.reason ?? DEFAULT_DISCONNECT_REASON,
        body.revoke === true,
      );
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      throw new ProtocolError('unavailable', 'could not reach every region; retry');
    }
    return c.json({ ok: true }, 202);
  });
}

/** `POST /v1/rooms/:room/messages` with a server key: any room, `user` from the body (default "server"). */
export async function serverPublish(c: Context<ApiEnv>, services: RegionServices): Promise<Response> {
  const room = parsePayload(roomNameSchema, c.req.param('room'));
  const body = parsePayload(serverPublishBody, await jsonBody(c));
  const ack = await services.publisher.publish({
    principal: { user: body.user ?? SERVER_USER, rooms: ['*'] },
    room,
    data: body.data,
    id: body.id,
    ephemeral: body.ephemeral,
    server: true,
    transport: 'server',
  });
  return c.json(ack, 202);
}

async function requireServerKey(c: Context<ApiEnv>, next: () => Promise<void>): Promise<void> {
  if (!c.get('server')) {
    throw new ProtocolError('unauthorized', 'this call needs a server API key (header x-api-key)');
  }
  await next();
}

export async function jsonBody(c: Context): Promise<unknown> {
  return parseJson(await c.req.text());
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ProtocolError('invalid', 'body must be JSON');
  }
}
