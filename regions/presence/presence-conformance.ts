import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../tests/support/manual-clock';
import type { PresenceStore, PresenceTiming } from './store';

/** One empty region: `node(id)` is that node's view of the region's presence. */
export type PresenceStoreFactory = (
  timing: PresenceTiming,
  clock: ManualClock,
) => Promise<{ node(nodeId: string): PresenceStore }>;

const TIMING: PresenceTiming = { leaveGraceMs: 5_000, nodeLeaseMs: 15_000 };

/**
 * The behaviour every `PresenceStore` backend must show (memory and Redis): one member per user in
 * join order with an exact count, the leave grace (a reconnect inside it is no transition), each
 * leave reported once however many nodes sweep, and a dead node's connections taken off by a live one.
 */
export function presenceStoreConformance(name: string, open: PresenceStoreFactory): void {
  describe(`PresenceStore conformance: ${name}`, () => {
    async function region() {
      const clock = new ManualClock();
      const { node } = await open(TIMING, clock);
      return { clock, a: node('a'), b: node('b') };
    }

    it('lists one member per user however many connections and nodes, in join order, capped, counted', async () => {
      const { clock, a, b } = await region();
      expect(await a.add('room', 'carol', { name: 'Carol' })).toBe(true);
      clock.advance(1);
      expect(await b.add('room', 'alice', undefined)).toBe(true);
      clock.advance(1);
      expect(await a.add('room', 'alice', undefined)).toBe(false);
      expect(await b.add('room', 'bob', undefined)).toBe(true);
      expect(await a.members('room', 10)).toEqual({
        members: [
          { user: 'carol', region: 'eu-west', info: { name: 'Carol' } },
          { user: 'alice', region: 'eu-west' },
          { user: 'bob', region: 'eu-west' },
        ],
        count: 3,
      });
      expect(await b.members('room', 1)).toEqual({
        members: [{ user: 'carol', region: 'eu-west', info: { name: 'Carol' } }],
        count: 3,
      });
      expect(await a.members('empty', 10)).toEqual({ members: [], count: 0 });
    });

    it('keeps a member whose last connection went for the grace, then reports its leave once', async () => {
      const { clock, a, b } = await region();
      await a.add('room', 'dana', undefined);
      await b.add('room', 'dana', undefined);
      await a.remove('room', 'dana');
      await b.remove('room', 'dana');
      clock.advance(TIMING.leaveGraceMs - 100);
      expect(await a.expireLeaving()).toEqual([]);
      expect((await a.members('room', 10)).count).toBe(1);
      clock.advance(200);
      // Both nodes sweep; one of them reports the leave.
      const reported = [...(await a.expireLeaving()), ...(await b.expireLeaving())];
      expect(reported).toEqual([{ room: 'room', user: 'dana' }]);
      expect(await a.members('room', 10)).toEqual({ members: [], count: 0 });
    });

    it('makes no transition for a member who connects again within the grace', async () => {
      const { clock, a, b } = await region();
      await a.add('room', 'erik', undefined);
      await a.remove('room', 'erik');
      clock.advance(1_000);
      expect(await b.add('room', 'erik', undefined)).toBe(false);
      clock.advance(TIMING.leaveGraceMs * 2);
      expect(await a.expireLeaving()).toEqual([]);
      expect((await a.members('room', 10)).members).toEqual([{ user: 'erik', region: 'eu-west' }]);
    });

    it('knows the rooms each node holds connections in', async () => {
      const { a, b } = await region();
      await a.add('one', 'fay', undefined);
      await a.add('two', 'fay', undefined);
      await b.add('three', 'gus', undefined);
      expect((await a.roomsOfNode()).sort()).toEqual(['one', 'two']);
      await a.remove('one', 'fay');
      expect(await a.roomsOfNode()).toEqual(['two']);
      expect(await b.roomsOfNode()).toEqual(['three']);
    });

    it('gives the members of a stopping node the grace', async () => {
      const { clock, a } = await region();
      await a.add('room', 'hal', undefined);
      await a.removeNode();
      expect(await a.roomsOfNode()).toEqual([]);
      expect(await a.expireLeaving()).toEqual([]);
      clock.advance(TIMING.leaveGraceMs + 1);
      expect(await a.expireLeaving()).toEqual([{ room: 'room', user: 'hal' }]);
    });

    it("takes a dead node's connections off, keeping users connected elsewhere", async () => {
      const { a, b } = await region();
      await b.add('room', 'ida', undefined);
      await b.add('room', 'jon', undefined);
      await a.add('room', 'jon', undefined);
      // The node registry found b dead; a cleans up after it: its members leave at the next sweep.
      await a.removeNode('b');
      expect(await b.roomsOfNode()).toEqual([]);
      expect(await a.expireLeaving()).toEqual([{ room: 'room', user: 'ida' }]);
      expect(await a.members('room', 10)).toEqual({
        members: [{ user: 'jon', region: 'eu-west' }],
        count: 1,
      });
    });
  });
}
