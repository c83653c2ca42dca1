import pino from 'pino';
import { Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { encodeEnvelope, type Envelope, type EnvelopeId } from '../../shared';
import type { HistoryReads, HistoryStore } from './history-store';
import { MemoryRecentHistory } from './memory-recent';
import { MemoryHistoryStore } from './memory-store';
import { HistoryMetrics } from './metrics';
import { HistoryRecovery } from './recovery';

const ROOM = 'room';
const T0 = Date.now() - 60_000;

/** An envelope accepted `ms` after T0, with about `bytes` of data. */
function at(ms: number, bytes: number): Envelope {
  const id = uuidv7({ msecs: T0 + ms }) as EnvelopeId;
  return { id, room: ROOM, data: 'x'.repeat(bytes), user: 'u', origin: 'us-east', ts: T0 + ms };
}

/**
 * A region whose buffer holds the newest `buffered` of `all` (all of them stored), and the
 * recovery over both, with the store's `missedAfter` reads counted.
 */
async function region(all: Envelope[], buffered: number) {
  const store = new MemoryHistoryStore();
  await store.insert(all.map((e) => JSON.stringify(e)));
  const recent = new MemoryRecentHistory({
    length: buffered,
    roomMaxBytes: 1 << 30,
    totalMaxBytes: 1 << 30,
    maxRooms: 100,
    ttlMs: 3_600_000,
  });
  recent.append(all.map((e) => encodeEnvelope(e)));
  let postgresReads = 0;
  const counted: HistoryStore = {
    insert: (json) => store.insert(json),
    findCursor: (id) => store.findCursor(id),
    pageBefore: (...query) => store.pageBefore(...query),
    missedAfter: (...query) => {
      postgresReads++;
      return store.missedAfter(...query);
    },
  };
  const reads: HistoryReads = { read: (_kind, query) => query(counted) };
  const metrics = new HistoryMetrics(new Registry(), async () => 0);
  const recovery = new HistoryRecovery(recent, reads, 1_000, { metrics, log: pino({ level: 'silent' }) });
  return { recovery, postgresReads: () => postgresReads };
}

describe('join { since } where since has left the buffer', () => {
  // Twenty envelopes of about 1 KiB, a second apart; the buffer keeps the newest ten.
  const all = Array.from({ length: 20 }, (_, i) => at(i * 1_000, 1_000));
  const ids = (list: { id: string }[]) => list.map((e) => e.id);

  it('answers from Postgres and the buffer together when the answer holds what came after since', async () => {
    const { recovery, postgresReads } = await region(all, 10);
    const answer = await recovery.missedSince(ROOM, all[5]!.id, 1 << 20);
    // The two accepted within the reorder window before since come first.
    expect(ids(answer.missed)).toEqual(ids([...all.slice(3, 5), ...all.slice(6)]));
    expect(answer.complete).toBe(true);
    expect(postgresReads()).toBe(1);
  });

  it('answers the newest that fit from the buffer, cut, without reading Postgres, when the buffer alone overflows the answer', async () => {
    const { recovery, postgresReads } = await region(all, 10);
    // Room for about five of them besides the answer's framing: the buffer's ten after since overflow it.
    const answer = await recovery.missedSince(ROOM, all[2]!.id, 512 + 5 * 1_200);
    expect(ids(answer.missed)).toEqual(ids(all.slice(15)));
    expect(answer.complete).toBe(false);
    expect(postgresReads()).toBe(0);
  });
});
