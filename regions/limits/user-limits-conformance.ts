import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../tests/support/manual-clock';
import type { UserLimitRules, UserLimits } from './user-limits';

/** One empty region with `rules`: `node(id)` is that node's view of the shared limit. */
export type UserLimitsFactory = (
  rules: UserLimitRules,
  clock: ManualClock,
) => Promise<{ node(nodeId: string): UserLimits }>;

/**
 * The behaviour every `UserLimits` backend must show (memory and Redis): the maximum counted over
 * every node of the region, a closed connection's slot free at once, leases that run out unless
 * renewed.
 */
export function userLimitsConformance(name: string, open: UserLimitsFactory): void {
  describe(`UserLimits conformance: ${name}`, () => {
    const rules: UserLimitRules = { maxConnectionsPerUser: 2, leaseMs: 30_000 };

    it('admits a user up to the maximum over every node, and other users apart', async () => {
      const region = await open(rules, new ManualClock());
      const [a, b] = [region.node('a'), region.node('b')];
      expect(await a.openConnection('dana', 's1')).toBe(true);
      expect(await b.openConnection('dana', 's1')).toBe(true);
      expect(await a.openConnection('dana', 's2')).toBe(false);
      expect(await b.openConnection('dana', 's2')).toBe(false);
      expect(await a.openConnection('erik', 's2')).toBe(true);
    });

    it('frees the slot of a closed connection at once', async () => {
      const region = await open(rules, new ManualClock());
      const [a, b] = [region.node('a'), region.node('b')];
      await a.openConnection('dana', 's1');
      await b.openConnection('dana', 's2');
      await a.closeConnection('dana', 's1');
      expect(await b.openConnection('dana', 's3')).toBe(true);
      expect(await a.openConnection('dana', 's4')).toBe(false);
      // Closing what is not open changes nothing.
      await a.closeConnection('dana', 'never-opened');
      expect(await a.openConnection('dana', 's5')).toBe(false);
    });

    it('stops counting connections whose lease ran out, and keeps renewed ones', async () => {
      const clock = new ManualClock();
      const region = await open(rules, clock);
      const [alive, crashed] = [region.node('alive'), region.node('crashed')];
      await alive.openConnection('dana', 's1');
      await crashed.openConnection('dana', 's2');
      clock.advance(20_000);
      await alive.renew([{ user: 'dana', socketId: 's1' }]);
      clock.advance(15_000);
      // The crashed node's lease ran out; the renewed one still counts.
      expect(await alive.openConnection('dana', 's3')).toBe(true);
      expect(await alive.openConnection('dana', 's4')).toBe(false);
    });
  });
}
