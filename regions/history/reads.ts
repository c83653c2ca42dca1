import { ProtocolError, type EnvelopeId } from '../../shared';
import type { StoredEnvelope } from './stored';

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

/** History reads of a node without history (in-process tests): pages answer `unavailable`, recovery has nothing. */
export const noHistory: MissedMessages & HistoryReader = {
  async missedSince(_room, since) {
    return { missed: [], complete: since === undefined };
  },
  async page() {
    throw new ProtocolError('unavailable', 'history is not enabled on this node');
  },
};
