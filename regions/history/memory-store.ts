import type { Envelope, EnvelopeId } from '../../shared';
import type { HistoryReads, HistoryStore } from './history-store';
import { AnswerBudget, storedEnvelope, type StoredEnvelope } from './stored';
import type { HistoryCursor, StoredRead } from './history-store';
import { uuidV7Time } from './store';

/** Newest first on `(ts, id)`, as the store's reads go. */
function compareNewestFirst(
  a: Pick<StoredEnvelope, 'ts' | 'id'>,
  b: Pick<StoredEnvelope, 'ts' | 'id'>,
): number {
  if (a.ts !== b.ts) return b.ts - a.ts;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * The history store in memory, for in-process tests and embedding: the same keyset order, id
 * uniqueness, retention floor and answer budget as the Postgres store (`history-store-conformance.ts`
 * runs on both). It is also its own `HistoryReads`: every read runs on it.
 */
export class MemoryHistoryStore implements HistoryStore, HistoryReads {
  private readonly rows = new Map<EnvelopeId, StoredEnvelope & { room: string }>();

  read<T>(_kind: string, query: (store: HistoryStore) => Promise<T>): Promise<T> {
    return query(this);
  }

  async insert(envelopesJson: readonly string[]): Promise<number> {
    let written = 0;
    for (const json of envelopesJson) {
      const envelope = JSON.parse(json) as Envelope;
      if (this.rows.has(envelope.id)) continue;
      this.rows.set(envelope.id, { ...storedEnvelope(envelope, json), room: envelope.room });
      written++;
    }
    return written;
  }

  async findCursor(id: EnvelopeId): Promise<HistoryCursor | undefined> {
    const row = this.rows.get(id);
    return row ? { ts: row.ts, id } : undefined;
  }

  pageBefore: HistoryStore['pageBefore'] = async (room, before, limit, floor, maxAnswerBytes = Infinity) => {
    const at = before && { ts: this.rows.get(before)?.ts ?? uuidV7Time(before), id: before };
    return this.newest(room, floor, limit, maxAnswerBytes, (row) => !at || compareNewestFirst(row, at) > 0);
  };

  missedAfter: HistoryStore['missedAfter'] = async (
    room,
    cursor,
    windowMs,
    limit,
    floor,
    maxBytes = Infinity,
  ) =>
    this.newest(
      room,
      floor,
      limit,
      maxBytes,
      (row) => row.ts >= cursor.ts - windowMs && row.id !== cursor.id,
    );

  /** The newest `limit` rows of `room` from `floor` on that `admit` takes, cut at the byte budget. */
  private newest(
    room: string,
    floor: EnvelopeId | undefined,
    limit: number,
    maxAnswerBytes: number,
    admit: (row: StoredEnvelope) => boolean,
  ): StoredRead {
    const budget = new AnswerBudget(maxAnswerBytes);
    const candidates = [...this.rows.values()]
      .filter((row) => row.room === room && (floor === undefined || row.id >= floor) && admit(row))
      .sort(compareNewestFirst)
      .slice(0, limit);
    const envelopes: StoredEnvelope[] = [];
    let cut = false;
    for (const row of candidates) {
      if (!budget.take(row)) {
        cut = true;
        break;
      }
      envelopes.push(storedEnvelope(row, row.json));
    }
    return { envelopes: envelopes.reverse(), cut };
  }
}
