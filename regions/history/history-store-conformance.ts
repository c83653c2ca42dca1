import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import type { Envelope, EnvelopeId } from '../../shared';
import type { HistoryStore } from './history-store';
import type { StoredRead } from './history-store';
import { cursorFromId } from './store';

/** A fresh, empty store. */
export type HistoryStoreFactory = () => Promise<HistoryStore>;

const T0 = Date.now() - 60_000;
let n = 0;

/** An envelope accepted at `T0 + ms` (its UUIDv7 carries that time, as the node's ids do). */
function at(ms: number, over: Partial<Envelope> = {}): Envelope {
  const id = uuidv7({ msecs: T0 + ms }) as EnvelopeId;
  return { id, room: 'room', data: { n: ++n }, user: 'alice', origin: 'us-east', ts: T0 + ms, ...over };
}

const json = (envelopes: Envelope[]) => envelopes.map((e) => JSON.stringify(e));
const envelopes = (read: StoredRead) => read.envelopes.map((stored) => JSON.parse(stored.json) as Envelope);
const ids = (read: StoredRead) => read.envelopes.map((stored) => stored.id);

/**
 * The behaviour every `HistoryStore` backend must show (memory and Postgres): each id stored once,
 * keyset pages on `(ts, id)`, an unknown cursor placed by its UUIDv7 time, the retention floor,
 * recovery after a cursor with the reorder window, and the answer budget keeping the newest.
 */
export function historyStoreConformance(name: string, open: HistoryStoreFactory): void {
  describe(`HistoryStore conformance: ${name}`, () => {
    it('stores each id once, as sent, and knows its position', async () => {
      const store = await open();
      const first = at(0, { data: { text: 'é ✓', nested: [null, { a: 1 }] } });
      expect(await store.insert(json([first]))).toBe(1);
      expect(await store.insert(json([first, at(10)]))).toBe(1);
      expect(envelopes(await store.pageBefore('room', undefined, 10))).toEqual([first, expect.anything()]);
      expect(await store.findCursor(first.id)).toEqual({ ts: first.ts, id: first.id });
      expect(await store.findCursor(at(5).id)).toBeUndefined();
    });

    it('counts each envelope it answers at the UTF-8 bytes of its JSON', async () => {
      const store = await open();
      const sent = at(0, { room: 'salle-é', user: 'zoë ✓', data: { text: 'é ✓ 😀', n: [1, 2] } });
      await store.insert(json([sent]));
      const [stored] = (await store.pageBefore('salle-é', undefined, 10)).envelopes;
      expect(stored?.bytes).toBe(Buffer.byteLength(stored!.json));
      expect(stored?.bytes).toBe(Buffer.byteLength(JSON.stringify(sent)));
    });

    it('pages a room newest page first, oldest first within a page, by keyset', async () => {
      const store = await open();
      const room = [at(0), at(10), at(20), at(30), at(40)];
      await store.insert(json([...room, at(25, { room: 'other' })]));
      const newest = await store.pageBefore('room', undefined, 2);
      expect(ids(newest)).toEqual([room[3]!.id, room[4]!.id]);
      expect(newest.cut).toBe(false);
      const older = await store.pageBefore('room', room[3]!.id, 2);
      expect(ids(older)).toEqual([room[1]!.id, room[2]!.id]);
      expect(ids(await store.pageBefore('room', room[1]!.id, 10))).toEqual([room[0]!.id]);
      // A cursor the store does not hold (not written yet) is placed by its UUIDv7 time.
      expect(ids(await store.pageBefore('room', at(35).id, 10))).toEqual(room.slice(0, 4).map((e) => e.id));
    });

    it('orders envelopes of the same millisecond by id', async () => {
      const store = await open();
      const same = [at(0), at(0), at(0)].sort((a, b) => (a.id < b.id ? -1 : 1));
      await store.insert(json([same[2]!, same[0]!, same[1]!]));
      expect(ids(await store.pageBefore('room', undefined, 10))).toEqual(same.map((e) => e.id));
      expect(ids(await store.pageBefore('room', same[2]!.id, 10))).toEqual([same[0]!.id, same[1]!.id]);
    });

    it('never answers what is older than the retention floor', async () => {
      const store = await open();
      const room = [at(0), at(10), at(20)];
      await store.insert(json(room));
      const floor = room[1]!.id;
      expect(ids(await store.pageBefore('room', undefined, 10, floor))).toEqual([room[1]!.id, room[2]!.id]);
      const cursor = cursorFromId(at(-1_000).id);
      expect(ids(await store.missedAfter('room', cursor, 0, 10, floor))).toEqual([room[1]!.id, room[2]!.id]);
    });

    it('recovers what came after a cursor, and what was accepted within the reorder window before it', async () => {
      const store = await open();
      const tooEarly = at(-5_000);
      const before = [at(0, { origin: 'eu-west' }), at(500)];
      const since = at(1_000);
      const after = [at(1_500), at(2_000, { origin: 'eu-west' })];
      await store.insert(json([tooEarly, ...before, since, ...after]));
      const cursor = (await store.findCursor(since.id))!;
      expect(cursor).toEqual({ ts: since.ts, id: since.id });
      const missed = await store.missedAfter('room', cursor, 2_000, 10);
      expect(ids(missed)).toEqual([...before, ...after].map((e) => e.id));
      expect(ids(await store.missedAfter('room', cursor, 0, 10))).toEqual(after.map((e) => e.id));
      expect(ids(await store.missedAfter('room', cursor, 2_000, 1))).toEqual([after[1]!.id]);
      // A cursor from an id the store does not hold is placed by its UUIDv7 time.
      const unknown = cursorFromId(at(1_200).id);
      expect(ids(await store.missedAfter('room', unknown, 0, 10))).toEqual(after.map((e) => e.id));
    });

    it('answers the newest envelopes that fit in the byte budget, and says it cut', async () => {
      const store = await open();
      const room = [0, 10, 20, 30].map((ms) => at(ms, { data: 'x'.repeat(400) }));
      await store.insert(json(room));
      const one = JSON.stringify(room[0]).length + 1;
      // The budget leaves 512 bytes for the answer's own framing.
      const page = await store.pageBefore('room', undefined, 10, undefined, 512 + 2 * one + 10);
      expect(page.cut).toBe(true);
      expect(ids(page)).toEqual([room[2]!.id, room[3]!.id]);
      const cursor = cursorFromId(at(-1).id);
      const missed = await store.missedAfter('room', cursor, 0, 10, undefined, 512 + one + 10);
      expect(missed.cut).toBe(true);
      expect(ids(missed)).toEqual([room[3]!.id]);
      expect((await store.pageBefore('room', undefined, 10, undefined, 1 << 20)).cut).toBe(false);
    });
  });
}
