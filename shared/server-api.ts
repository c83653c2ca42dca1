import { z } from 'zod';
import { envelopeIdSchema, roomNameSchema } from './protocol';

/** Most rooms one `POST /v1/broadcast` may name. */
export const BROADCAST_MAX_ROOMS = 100;

/** The `user` a server publish is attributed to when the body names none. */
export const SERVER_USER = 'server';

const userIdSchema = z.string().min(1).max(256);

/** Server API `POST /v1/rooms/:room/messages` body (with `x-api-key`). */
export const serverPublishBody = z.strictObject({
  data: z.json(),
  id: envelopeIdSchema.optional(),
  user: userIdSchema.optional(),
  ephemeral: z.boolean().optional(),
});

/** Server API `POST /v1/broadcast` body: the same `data` to each room (duplicates count once). */
export const broadcastBody = z.strictObject({
  rooms: z
    .array(roomNameSchema)
    .min(1, 'rooms must name at least one room')
    .max(BROADCAST_MAX_ROOMS, `rooms may name at most ${BROADCAST_MAX_ROOMS} rooms`),
  data: z.json(),
  ephemeral: z.boolean().optional(),
});

/** Server API `POST /v1/users/:user/disconnect` body (may be empty). */
export const disconnectBody = z.strictObject({
  reason: z.string().max(256).optional(),
  revoke: z.boolean().optional(),
});

/** The `:user` of `/v1/users/:user/disconnect`. */
export const userParamSchema = userIdSchema;

export type ServerPublishBody = z.infer<typeof serverPublishBody>;
export type BroadcastBody = z.infer<typeof broadcastBody>;
export type DisconnectBody = z.infer<typeof disconnectBody>;
