import { ProtocolError, type EnvelopeId, type ErrorBody } from '../shared';
import type { StoredEnvelope } from './history/stored';
import type { Logger } from './log';
import type { RegionMetrics } from './metrics';
import type { PresenceService } from './presence';
import type { Publisher } from './publish';
import type { Revocations } from './server-api/user-control';

/**
 * What `join { since }` recovers: the envelopes of the room after `since`, in the order this region
 * delivered them, as their stored JSON. `complete` is false when that cannot be all of them: `since`
 * is older than history keeps (retention), Postgres could not be asked and the regional buffer alone
 * answered, or the answer's bytes or the recovery limit left older ones out.
 */
export interface MissedAnswer {
  missed: StoredEnvelope[];
  complete: boolean;
}

/** Answers `join { since }` (see MissedAnswer): the newest that fit in `maxAnswerBytes`. */
export interface MissedMessages {
  missedSince(room: string, since: EnvelopeId | undefined, maxAnswerBytes: number): Promise<MissedAnswer>;
}

/**
 * Pages of a room's history before a cursor, oldest first, as their stored JSON: the newest of the
 * page that fit in `maxAnswerBytes` (the client pages on from the oldest it got).
 */
export interface HistoryReader {
  page(
    room: string,
    query: { before?: EnvelopeId | undefined; limit?: number | undefined },
    maxAnswerBytes: number,
  ): Promise<StoredEnvelope[]>;
}

/** Used until a history store is attached: history reads answer `unavailable`, recovery has nothing. */
export const noHistory: MissedMessages & HistoryReader = {
  async missedSince(_room, since) {
    return { missed: [], complete: since === undefined };
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
