/**
 * The client SDK (browser and Node): `new RealtimeClient({ url, token })`. See docs/sdk.md.
 * Not re-exported from `shared/index.ts`, so the edge bundle does not carry socket.io-client.
 */
export {
  RealtimeClient,
  RealtimeError,
  type RealtimeClientEvents,
  type RealtimeClientOptions,
  type RealtimeErrorCode,
} from './client';
export { RecentIds } from './recent-ids';
export { RoomFeed } from './room-feed';
export type { Envelope, EnvelopeId, JsonValue } from '../envelope';
export type { PresenceEvent, PresenceMember, SessionInfo } from '../protocol';
