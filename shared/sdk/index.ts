/**
 * The client SDK (browser and Node): `new RealtimeClient({ url, token })`, published as the npm
 * package `@edge-realtime/client` (this folder; built by infra/sdk/build.ts). See docs/sdk.md.
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
export { newEnvelopeId, type Envelope, type EnvelopeId, type JsonValue } from '../envelope';
export { isValidRoomName } from '../rooms';
export type { ErrorCode } from '../errors';
export type { PresenceEvent, PresenceList, PresenceMember, SessionInfo } from '../socket-events';
