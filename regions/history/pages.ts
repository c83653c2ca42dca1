import { HISTORY_LIMIT_DEFAULT, type EnvelopeId } from '../../shared';
import type { HistoryReader } from '../services';
import type { HistoryReads } from './history-store';
import type { StoredEnvelope } from './stored';

/**
 * The `history` event and `GET /v1/rooms/:room/messages`: a page of a room's stored envelopes before
 * the `before` cursor (an envelope id), oldest first, read from the replica when it is fresh, as the
 * stored JSON of each envelope (never decoded on the node).
 */
export class HistoryPages implements HistoryReader {
  constructor(
    private readonly reads: HistoryReads,
    /** The oldest id history still answers (HISTORY_RETENTION_DAYS), or undefined. */
    private readonly floor: () => EnvelopeId | undefined = () => undefined,
  ) {}

  async page(
    room: string,
    query: { before?: EnvelopeId | undefined; limit?: number | undefined },
    maxAnswerBytes: number,
  ): Promise<StoredEnvelope[]> {
    const limit = query.limit ?? HISTORY_LIMIT_DEFAULT;
    const floor = this.floor();
    const read = await this.reads.read('page', (store) =>
      store.pageBefore(room, query.before, limit, floor, maxAnswerBytes),
    );
    return read.envelopes;
  }
}
