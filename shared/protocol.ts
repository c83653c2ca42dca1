import { z } from 'zod';
import { UUID_V7, type EnvelopeId, type JsonValue } from './envelope';
import { ProtocolError } from './errors';
import type {
  AuthPayload,
  HistoryPayload,
  JoinPayload,
  LeavePayload,
  PresencePayload,
  PublishPayload,
} from './socket-events';
import { jsonValueProblem } from './json-value';
import { ROOM_NAME } from './rooms';

/** Default largest `data`, in bytes of UTF-8 JSON. */
export const MAX_DATA_BYTES = 64 * 1024;

export const HISTORY_LIMIT_DEFAULT = 50;
export const HISTORY_LIMIT_MAX = 100;

export const envelopeIdSchema = z
  .string()
  .regex(UUID_V7, 'must be a lowercase UUIDv7')
  .transform((id) => id as EnvelopeId);
/**
 * Any value that can be stored and delivered exactly as sent (shared/json-value.ts). Replaces
 * `z.json()`, whose recursive check costs tens of milliseconds on a hostile 64 KiB value and
 * rebuilds objects (dropping a `__proto__` key); this one is one iterative pass and keeps the value.
 */
export const jsonData = z.custom<JsonValue>().superRefine((value, ctx) => {
  const problem = jsonValueProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const envelopeSchema = z.object({
  id: envelopeIdSchema,
  room: z.string(),
  data: jsonData,
  user: z.string(),
  origin: z.string(),
  ts: z.number().int().nonnegative(),
  ephemeral: z.literal(true).optional(),
});

export const roomNameSchema = z.string().regex(ROOM_NAME, 'room must match ^[A-Za-z0-9:_.-]{1,128}$');

// Client → server events and their payloads.

export const joinPayload = z.strictObject({ room: roomNameSchema, since: envelopeIdSchema.optional() });
export const leavePayload = z.strictObject({ room: roomNameSchema });
export const publishPayload = z.strictObject({
  room: roomNameSchema,
  data: jsonData,
  id: envelopeIdSchema.optional(),
  /** Delivered live in every region, never stored (history, `missed`). */
  ephemeral: z.boolean().optional(),
});
export const historyPayload = z.strictObject({
  room: roomNameSchema,
  before: envelopeIdSchema.optional(),
  limit: z.number().int().min(1).max(HISTORY_LIMIT_MAX).optional(),
});
export const presencePayload = z.strictObject({ room: roomNameSchema });
export const authPayload = z.strictObject({
  token: z
    .string()
    .min(1)
    .max(16 * 1024),
});

/** HTTP `POST /v1/rooms/:room/messages` body. */
export const publishBody = z.strictObject({
  data: jsonData,
  id: envelopeIdSchema.optional(),
  ephemeral: z.boolean().optional(),
});

// The events' types live in socket-events.ts (no zod, so the SDK and its type declarations carry none);
// the schemas above must parse exactly those payloads, which this checks at compile time.
export type * from './socket-events';
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const PAYLOAD_TYPES_MATCH: [
  Same<z.infer<typeof joinPayload>, JoinPayload>,
  Same<z.infer<typeof leavePayload>, LeavePayload>,
  Same<z.infer<typeof publishPayload>, PublishPayload>,
  Same<z.infer<typeof historyPayload>, HistoryPayload>,
  Same<z.infer<typeof presencePayload>, PresencePayload>,
  Same<z.infer<typeof authPayload>, AuthPayload>,
] = [true, true, true, true, true, true];

/** Turns a zod failure into the contract's `invalid` error with a readable message. */
export function invalidFrom(error: z.ZodError): ProtocolError {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return new ProtocolError('invalid', `${where}${issue?.message ?? 'invalid payload'}`);
}

/** Parses `input` with `schema`, throwing the contract's `invalid` error. */
export function parsePayload<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw invalidFrom(result.error);
  return result.data;
}
