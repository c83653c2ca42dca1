import { z } from 'zod';
import { UUID_V7, type Envelope, type EnvelopeId, type JsonValue } from './envelope';
import { ProtocolError, type ErrorBody } from './errors';
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

export type JoinPayload = z.infer<typeof joinPayload>;
export type LeavePayload = z.infer<typeof leavePayload>;
export type PublishPayload = z.infer<typeof publishPayload>;
export type HistoryPayload = z.infer<typeof historyPayload>;
export type PresencePayload = z.infer<typeof presencePayload>;
export type AuthPayload = z.infer<typeof authPayload>;

export interface PresenceMember {
  user: string;
  region: string;
  /** The `info` claim of the member's token, when it has one. */
  info?: Record<string, JsonValue>;
}

/** A `presence` answer: the first members (capped, default 1000) and the exact count. */
export interface PresenceList {
  members: PresenceMember[];
  count: number;
}

export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: ErrorBody };

export interface ClientEvents {
  /**
   * `recovered` is false when `missed` could not hold every envelope after `since` (over the answer
   * budget, beyond what is kept): the client pages `history` back from its oldest entry.
   */
  join: (
    payload: JoinPayload,
    ack: (res: Ack<{ room: string; missed: Envelope[]; recovered: boolean }>) => void,
  ) => void;
  leave: (payload: LeavePayload, ack: (res: Ack) => void) => void;
  publish: (payload: PublishPayload, ack: (res: Ack<{ id: string; ts: number }>) => void) => void;
  history: (payload: HistoryPayload, ack: (res: Ack<{ messages: Envelope[] }>) => void) => void;
  presence: (payload: PresencePayload, ack: (res: Ack<PresenceList>) => void) => void;
  /** A fresh token for the same `sub`; `left` are the rooms it no longer grants, which were left. */
  auth: (payload: AuthPayload, ack: (res: Ack<{ exp: number; left: string[] }>) => void) => void;
}

export interface SessionInfo {
  region: string;
  node: string;
}

export interface PresenceEvent {
  room: string;
  user: string;
  region: string;
  state: 'join' | 'leave';
  /** On `join`: the member's `info`, when its token has one. */
  info?: Record<string, JsonValue>;
}

export interface ServerEvents {
  session: (info: SessionInfo) => void;
  message: (envelope: Envelope) => void;
  presence: (event: PresenceEvent) => void;
  drain: (info: { reason: string }) => void;
  /** The token expired (`exp`, seconds): the node disconnects the socket right after. */
  expired: (info: { exp: number }) => void;
  /** The server API disconnected this user (`POST /v1/users/:user/disconnect`); the socket closes next. */
  disconnected: (info: { reason: string }) => void;
}

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
