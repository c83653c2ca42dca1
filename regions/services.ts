import type { ErrorBody } from '../shared';
import type { HistoryReader, MissedMessages } from './history/reads';
import type { PresenceService } from './presence';
import type { Publisher } from './publish';
import type { Revocations } from './server-api/user-control';

/** Everything the socket and HTTP front ends call, assembled once by the node. */
export interface RegionServices {
  publisher: Publisher;
  presence: PresenceService;
  recovery: MissedMessages;
  history: HistoryReader;
  /** Server API powers over users in every region, and the revocations handshakes and `auth` check. */
  users: UserControlApi;
  /** Maps any error to the `{ code, message }` a client may see; logs and counts the unexpected. */
  toClientError(err: unknown, context: Record<string, unknown>): ErrorBody;
}

/** Disconnecting users everywhere (server API) and asking whether a token was revoked. */
export interface UserControlApi extends Revocations {
  disconnectUser(user: string, reason: string, revoke: boolean): Promise<void>;
}
