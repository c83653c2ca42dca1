import { describe, expect, it } from 'vitest';
import { encodeEnvelope, newEnvelopeId, type Envelope, type EnvelopeId } from '../../shared';
import { shardOfRoom } from '../bus/bus';
import { envelopeFor } from '../publish/publish-log-conformance';
import type { RecentBounds, RecentHistory } from './recent';

/** A fresh, empty buffer with `bounds`. */
export type RecentHistoryFactory = (bounds: RecentBounds) => Promise<RecentHistory>;

/** Room for everything a test appends (five entries per room), but for the bounds given in `over`. */
export function recentBounds(over: Partial<RecentBounds> = {}): RecentBounds {
  return {
    length: 5,
    roomMaxBytes: 100_000,
    totalMaxBytes: 1_000_000,
    maxRooms: 100,
    ttlMs: 60_000,
    ...over,
  };
}

export function recentEnvelope(room: string, data: unknown, over: Partial<Envelope> = {}): Envelope {
  return envelopeFor({ room, data: data as never, ...over });
}

/**
 * Appends and waits until they are written, then lets the clock move on: rooms are ordered by the
 * millisecond of their last append (Redis orders rooms of the same millisecond by name).
 */
async function appendAll(recent: RecentHistory, envelopes: Envelope[]): Promise<void> {
  for (const envelope of envelopes) recent.append([encodeEnvelope(envelope)]);
  await recent.settled();
  await new Promise((resolve) => setTimeout(resolve, 3));
}

/** The `data` a room's buffer holds, oldest first (read back from an id it does not hold: all of it). */
async function buffered(recent: RecentHistory, room: string): Promise<unknown[]> {
  const back = await recent.readBack(room, newEnvelopeId() as EnvelopeId);
  return back.map((b) => (JSON.parse(b.envelope.json) as Envelope).data).reverse();
}

/**
 * `count` rooms of one group of `groups` (a room's group: its bus shard), named in append order: the
 * bounds over rooms hold per group on a cluster. Numbers are padded, so that rooms of the same
 * millisecond are ordered by name as they are by append.
 */
function roomsOfOneGroup(prefix: string, count: number, groups: number): string[] {
  const rooms: string[] = [];
  for (let n = 0; rooms.length < count; n++) {
    const room = `${prefix}${String(n).padStart(3, '0')}`;
    if (shardOfRoom(room, groups) === shardOfRoom(`${prefix}000`, groups)) rooms.push(room);
  }
  return rooms;
}

/** `count` rooms, as many of them in different groups of `groups` as there are groups. */
function roomsOfDistinctGroups(prefix: string, count: number, groups: number): string[] {
  const rooms: string[] = [];
  const seen = new Set<number>();
  for (let n = 0; rooms.length < count; n++) {
    const room = `${prefix}${n}`;
    const group = shardOfRoom(room, groups);
    if (seen.has(group) && seen.size < groups) continue;
    seen.add(group);
    rooms.push(room);
  }
  return rooms;
}

/** How a backend splits the region's bounds: over `groups` groups, each with total/groups (1: none). */
export interface RecentLayout {
  groups: number;
}

/**
 * The behaviour every `RecentHistory` backend must show (memory, one Redis, a Redis Cluster):
 * delivery order, each bound (per room by count and bytes, over rooms by bytes and count, least
 * recently appended rooms dropped first), no ephemeral envelope, expiry, and reads back to `since`.
 * With `layout.groups` above 1 the bounds over rooms are checked on rooms of one group, with totals
 * `groups` times the group's: each group holds at most total/groups.
 */
export function recentHistoryConformance(
  name: string,
  open: RecentHistoryFactory,
  layout: RecentLayout = { groups: 1 },
): void {
  const { groups } = layout;
  describe(`RecentHistory conformance: ${name}`, () => {
    it('keeps the newest envelopes of a room in delivery order, bounded by count and by bytes', async () => {
      const one = JSON.stringify(recentEnvelope('a', '8'.repeat(100))).length;
      const recent = await open(recentBounds({ roomMaxBytes: 3 * one }));
      await appendAll(
        recent,
        [1, 2, 3, 4, 5, 6, 7].map((n) => recentEnvelope('a', n)),
      );
      expect(await buffered(recent, 'a')).toEqual([3, 4, 5, 6, 7]);
      await appendAll(
        recent,
        ['8', '9', '0'].map((n) => recentEnvelope('a', n.repeat(100))),
      );
      expect(await buffered(recent, 'a')).toEqual(['8', '9', '0'].map((n) => n.repeat(100)));
    });

    it('bounds all rooms together by bytes, dropping the least recently appended rooms', async () => {
      const [r0, r1, r2, r3] = roomsOfOneGroup('r', 4, groups) as [string, string, string, string];
      const one = JSON.stringify(recentEnvelope(r0, 'x'.repeat(500))).length;
      const recent = await open(recentBounds({ totalMaxBytes: (3 * one + 10) * groups }));
      for (const room of [r0, r1, r2, r3]) await appendAll(recent, [recentEnvelope(room, 'x'.repeat(500))]);
      await appendAll(recent, [recentEnvelope(r1, 'y'.repeat(500))]);
      // Over the total, the least recently appended rooms go: r0 for r3's entry, then r2 for r1's.
      expect(await buffered(recent, r0)).toEqual([]);
      expect(await buffered(recent, r2)).toEqual([]);
      expect(await buffered(recent, r3)).toEqual(['x'.repeat(500)]);
      expect(await buffered(recent, r1)).toEqual(['x'.repeat(500), 'y'.repeat(500)]);
    });

    it('bounds the number of rooms, dropping the least recently appended', async () => {
      const [s1, s2, s3] = roomsOfOneGroup('s', 3, groups) as [string, string, string];
      const recent = await open(recentBounds({ maxRooms: 2 * groups }));
      await appendAll(recent, [recentEnvelope(s1, 1), recentEnvelope(s2, 2)]);
      await appendAll(recent, [recentEnvelope(s1, 11)]);
      await appendAll(recent, [recentEnvelope(s3, 3)]);
      expect(await buffered(recent, s2)).toEqual([]);
      expect(await buffered(recent, s1)).toEqual([1, 11]);
      expect(await buffered(recent, s3)).toEqual([3]);
    });

    it('appends a batch in one call as if each envelope came alone', async () => {
      const [a, b, c] = roomsOfOneGroup('batch', 3, groups) as [string, string, string];
      const recent = await open(recentBounds({ length: 3, maxRooms: 2 * groups }));
      const batch = [
        recentEnvelope(a, 1),
        recentEnvelope(b, 1),
        recentEnvelope(b, 2),
        recentEnvelope(b, 'typing', { ephemeral: true }),
        recentEnvelope(b, 3),
        recentEnvelope(b, 4),
        recentEnvelope(c, 1),
      ];
      recent.append(batch.map((envelope) => encodeEnvelope(envelope)));
      await recent.settled();
      // b keeps its newest three; c's room pushes out the least recently appended room, a.
      expect(await buffered(recent, a)).toEqual([]);
      expect(await buffered(recent, b)).toEqual([2, 3, 4]);
      expect(await buffered(recent, c)).toEqual([1]);
    });

    it('appends a batch over rooms of different groups, each room in its order', async () => {
      const rooms = roomsOfDistinctGroups('mixed', 4, groups);
      const recent = await open(recentBounds());
      const batch = [1, 2, 3].flatMap((n) => rooms.map((room) => recentEnvelope(room, n)));
      recent.append(batch.map((envelope) => encodeEnvelope(envelope)));
      await recent.settled();
      for (const room of rooms) expect(await buffered(recent, room)).toEqual([1, 2, 3]);
    });

    it('never buffers an ephemeral envelope', async () => {
      const recent = await open(recentBounds());
      await appendAll(recent, [
        recentEnvelope('e', 'typing', { ephemeral: true }),
        recentEnvelope('e', 'stored'),
      ]);
      expect(await buffered(recent, 'e')).toEqual(['stored']);
    });

    it('forgets a room its TTL after the last append', async () => {
      const recent = await open(recentBounds({ ttlMs: 200 }));
      await appendAll(recent, [recentEnvelope('t', 'short-lived')]);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await buffered(recent, 't')).toEqual([]);
    });

    it('reads back newest first to since, with when each was delivered', async () => {
      const recent = await open(recentBounds({ length: 500 }));
      const envelopes = Array.from({ length: 250 }, (_, n) => recentEnvelope('b', n));
      await appendAll(recent, envelopes);
      const since = envelopes[200]!;
      const back = await recent.readBack('b', since.id);
      const ids = back.map((b) => b.envelope.id);
      expect(ids.slice(0, 50)).toEqual(
        envelopes
          .slice(200)
          .reverse()
          .map((e) => e.id),
      );
      // The envelope as the JSON text it was appended as, with the fields recovery orders by.
      const { json, id, origin, ts, bytes } = back[0]!.envelope;
      const newest = envelopes[249]!;
      expect(json).toBe(JSON.stringify(newest));
      expect({ id, origin, ts, bytes }).toEqual({
        id: newest.id,
        origin: newest.origin,
        ts: newest.ts,
        bytes: Buffer.byteLength(json),
      });
      for (const entry of back) expect(Math.abs(entry.deliveredAt - Date.now())).toBeLessThan(60_000);
    });
  });
}
