import { describe, expect, it } from 'vitest';
import { newEnvelopeId, type Envelope } from '../../shared';
import {
  bufferReadEnough,
  isAfterCursor,
  mergeMissed,
  missedFromBuffer,
  type BufferedEnvelope,
} from './recovery-order';

function envelope(origin: string, ts: number): Envelope {
  return { id: newEnvelopeId(), room: 'r', data: null, user: 'u', origin, ts };
}

/** A buffer delivered in the given order, one entry per 100 ms; returned newest first like XREVRANGE. */
function buffer(envelopes: Envelope[], startMs = 10_000): BufferedEnvelope<Envelope>[] {
  return envelopes.map((e, i) => ({ deliveredAt: startMs + i * 100, envelope: e })).reverse();
}

describe('missedFromBuffer', () => {
  it('answers what was delivered after since, in delivery order', () => {
    const list = [1, 2, 3, 4, 5].map((i) => envelope('us', i));
    const missed = missedFromBuffer(buffer(list, 0), list[1]!.id, 0);
    expect(missed?.map((e) => e.ts)).toEqual([3, 4, 5]);
  });

  it('is undefined when since is not in the buffer', () => {
    expect(missedFromBuffer(buffer([envelope('us', 1)]), newEnvelopeId())).toBeUndefined();
  });

  it('answers nothing when since is the newest and nothing came shortly before it', () => {
    const list = [envelope('us', 1), envelope('us', 2)];
    expect(missedFromBuffer(buffer(list), list[1]!.id, 50)).toEqual([]);
  });

  it('adds envelopes of other regions delivered just before since, which another region may have sent later', () => {
    const old = envelope('eu', 1);
    const recentOther = envelope('eu', 2);
    const since = envelope('us', 4);
    const after = envelope('us', 5);
    const entries: BufferedEnvelope<Envelope>[] = [
      { deliveredAt: 1_000, envelope: old },
      { deliveredAt: 9_000, envelope: recentOther },
      { deliveredAt: 10_000, envelope: since },
      { deliveredAt: 10_100, envelope: after },
    ].reverse();
    expect(missedFromBuffer(entries, since.id, 2_000)).toEqual([recentOther, after]);
  });

  it('adds envelopes of the same region delivered just before since: another node of the region sends them to its members later', () => {
    // `otherNode` was published on node 2 and buffered before `since`, published on node 1; a member
    // on node 1 received `since` first and was moved (drain) before `otherNode` reached node 1.
    const otherNode = envelope('us', 3);
    const since = envelope('us', 4);
    const entries: BufferedEnvelope<Envelope>[] = [
      { deliveredAt: 9_990, envelope: otherNode },
      { deliveredAt: 10_000, envelope: since },
    ].reverse();
    expect(missedFromBuffer(entries, since.id, 2_000)).toEqual([otherNode]);
  });
});

describe('bufferReadEnough', () => {
  it('needs since and the reorder window before it', () => {
    const list = [1, 2, 3, 4, 5].map((i) => envelope('us', i));
    const all = buffer(list, 0); // delivered at 0, 100, ..., 400 ms
    expect(bufferReadEnough(all.slice(0, 2), list[3]!.id, 50)).toBe(false); // since not read yet
    expect(bufferReadEnough(all.slice(0, 2), list[3]!.id, 150)).toBe(false);
    expect(bufferReadEnough(all.slice(0, 4), list[3]!.id, 150)).toBe(true);
  });
});

describe('isAfterCursor', () => {
  const cursor = { ts: 10_000, id: newEnvelopeId() };

  it('orders by (ts, id) and never repeats the cursor itself', () => {
    expect(isAfterCursor({ ...envelope('us', 10_001) }, cursor)).toBe(true);
    expect(isAfterCursor({ ...envelope('us', 9_999) }, cursor, 0)).toBe(false);
    expect(isAfterCursor({ ...envelope('us', 10_000), id: cursor.id }, cursor)).toBe(false);
  });

  it('admits envelopes of every origin, the cursor region included, inside the window only', () => {
    expect(isAfterCursor(envelope('eu', 9_000), cursor, 2_000)).toBe(true);
    expect(isAfterCursor(envelope('us', 9_000), cursor, 2_000)).toBe(true);
    expect(isAfterCursor(envelope('eu', 7_000), cursor, 2_000)).toBe(false);
    expect(isAfterCursor(envelope('us', 7_000), cursor, 2_000)).toBe(false);
  });
});

describe('mergeMissed', () => {
  it('keeps stored order, appends what only the buffer has, drops repeats, keeps the newest', () => {
    const [a, b, c, d] = [1, 2, 3, 4].map((i) => envelope('us', i)) as [
      Envelope,
      Envelope,
      Envelope,
      Envelope,
    ];
    expect(mergeMissed([a, b], [b, c, d], 10)).toEqual([a, b, c, d]);
    expect(mergeMissed([a, b], [b, c, d], 2)).toEqual([c, d]);
  });
});
