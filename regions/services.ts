import { ProtocolError, type Envelope, type EnvelopeId, type ErrorBody } from '../shared';
import type { Logger } from './log';
import type { RegionMetrics } from './metrics';
import type { PresenceService } from './presence';
import type { Publisher } from './publish';
import type { Revocations } from './server-api/user-control';

/**
 * What `join { since }` recovers: the envelopes of the room after `since`, in the order this region
 * delivered them. `complete` is false when that cannot be all of them: `since` is older than history
 * keeps (retention), or Postgres could not be asked and the regional buffer alone answered.
 */
export interface MissedAnswer {
  missed: Envelope[];
  complete: boolean;
  /**
   * How many leading envelopes of `missed` come from the reorder window before `since` (see
   * RECOVERY_REORDER_WINDOW_MS): the client most likely has them, so an answer cut to its byte
   * budget may leave them out and still be complete.
   */
  reordered: number;
}

/** Answers `join { since }` (see MissedAnswer). */
export interface MissedMessages {
  missedSince(room: string, since: EnvelopeId | undefined): Promise<MissedAnswer>;
}

/** Pages of a room's history, oldest first, before a cursor. */
export interface HistoryReader {
  page(
    room: string,
    query: { before?: EnvelopeId | undefined; limit?: number | undefined },
  ): Promise<Envelope[]>;
}

/** Used until a history store is attached: history reads answer `unavailable`, recovery has nothing. */
export const noHistory: MissedMessages & HistoryReader = {
  async missedSince(_room, since) {
    return { missed: [], complete: since === undefined, reordered: 0 };
  },
  async page() {
    throw new ProtocolError('unavailable', 'history is not enabled on this node');
  },
};

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

export function clientErrorMapper(deps: { log: Logger; metrics: RegionMetrics }) {
  return (err: unknown, context: Record<string, unknown>): ErrorBody => {
    if (err instanceof ProtocolError) {
      deps.metrics.errors.inc({ code: err.code });
      return err.toBody();
    }
    deps.metrics.errors.inc({ code: 'unavailable' });
    deps.metrics.internalErrors.inc({ component: String(context.event ?? context.route ?? 'unknown') });
    deps.log.error({ err, ...context }, 'internal error');
    return { code: 'unavailable', message: 'internal error; retry later' };
  };
}

/** Disconnecting users everywhere (server API) and asking whether a token was revoked. */
export interface UserControlApi extends Revocations {
  disconnectUser(user: string, reason: string, revoke: boolean): Promise<void>;
}
