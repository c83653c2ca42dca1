/**
 * The Socket.IO events of the public contract and their payloads, as types only: no zod, so the
 * client SDK (and its published type declarations) can use them. `protocol.ts` holds the schemas
 * that parse these payloads on the server.
 */
import type { Envelope, EnvelopeId, JsonValue } from './envelope';
import type { ErrorBody } from './errors';

// Client → server payloads (protocol.ts parses them with zod and checks they match these).

export interface JoinPayload {
  room: string;
  since?: EnvelopeId | undefined;
}
export interface LeavePayload {
  room: string;
}
export interface PublishPayload {
  room: string;
  data: JsonValue;
  id?: EnvelopeId | undefined;
  /** Delivered live in every region, never stored (history, `missed`). */
  ephemeral?: boolean | undefined;
}
export interface HistoryPayload {
  room: string;
  before?: EnvelopeId | undefined;
  limit?: number | undefined;
}
export interface PresencePayload {
  room: string;
}
export interface AuthPayload {
  token: string;
}

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
  /**
   * Live delivery of `room` to this connection may have skipped envelopes since the time of `since`
   * (the region's Redis lost a connection, e.g. a cluster master failover): join the room again with
   * the older of `since` and the last envelope received, and drop what comes again by id.
   */
  resync: (info: { room: string; since: EnvelopeId }) => void;
}
