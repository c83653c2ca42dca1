import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../tests/support/manual-clock';
import type { NodeRegistry } from './registry';

/** One empty region's registry, judging leases by `clock`. */
export type NodeRegistryFactory = (clock: ManualClock) => Promise<NodeRegistry>;

const LEASE_MS = 15_000;
/**
 * Claims are kept by the backend (on Redis with its own expiry, in real time), so they are short
 * here and a test waits them out for real as well as on the clock.
 */
const CLAIM_MS = 50;

/** Lets a claim run out on both clocks: the test's and the backend's own. */
async function outlastClaim(clock: ManualClock): Promise<void> {
  clock.advance(CLAIM_MS + 1);
  await sleep(CLAIM_MS * 2);
}

/**
 * The behaviour every `NodeRegistry` backend must show (memory and Redis): a node is live while its
 * lease runs and renewing extends it; a node whose lease ran out is handed to one claimer at a time
 * (never to itself) until the claim runs out; a removed node is neither live nor dead.
 */
export function nodeRegistryConformance(name: string, open: NodeRegistryFactory): void {
  describe(`NodeRegistry conformance: ${name}`, () => {
    async function region() {
      const clock = new ManualClock();
      return { clock, registry: await open(clock) };
    }

    it('counts the nodes whose lease runs, and a renewal extends a lease', async () => {
      const { clock, registry } = await region();
      expect(await registry.liveCount()).toBe(0);
      await registry.renew('a', LEASE_MS);
      await registry.renew('b', LEASE_MS);
      await registry.renew('a', LEASE_MS); // a renewal is no second node
      expect(await registry.liveCount()).toBe(2);

      clock.advance(LEASE_MS / 2);
      await registry.renew('a', LEASE_MS);
      clock.advance(LEASE_MS / 2 + 1);
      expect(await registry.liveCount()).toBe(1); // b's lease ran out, a's was renewed
      clock.advance(LEASE_MS / 2);
      expect(await registry.liveCount()).toBe(0);
    });

    it('hands a dead node to one claimer at a time, never to itself, again once the claim ran out', async () => {
      const { clock, registry } = await region();
      await registry.renew('dead', 1_000);
      await registry.renew('a', LEASE_MS);
      await registry.renew('b', LEASE_MS);
      expect(await registry.claimDead('a', CLAIM_MS)).toEqual([]); // nobody's lease ran out yet

      clock.advance(1_001);
      expect(await registry.claimDead('a', CLAIM_MS)).toEqual(['dead']);
      expect(await registry.claimDead('b', CLAIM_MS)).toEqual([]); // a holds the claim
      expect(await registry.claimDead('a', CLAIM_MS)).toEqual([]); // also against its own claimer
      expect(await registry.liveCount()).toBe(2);

      // `a` failed to clean up (it never removed the node): another node takes it over later.
      await outlastClaim(clock);
      expect(await registry.claimDead('b', CLAIM_MS)).toEqual(['dead']);
    });

    it('never hands a node its own entry, however long its lease ran out', async () => {
      const { clock, registry } = await region();
      await registry.renew('a', 1_000);
      await registry.renew('b', 1_000);
      clock.advance(1_001);
      expect(await registry.claimDead('a', CLAIM_MS)).toEqual(['b']);
      expect(await registry.claimDead('b', CLAIM_MS)).toEqual(['a']);
    });

    it('forgets a removed node: neither live nor handed out as dead', async () => {
      const { clock, registry } = await region();
      await registry.renew('a', LEASE_MS);
      await registry.renew('gone', LEASE_MS);
      await registry.renew('dead', 1_000);
      await registry.remove('gone');
      expect(await registry.liveCount()).toBe(2); // a, and dead until its lease runs out

      clock.advance(1_001);
      expect(await registry.claimDead('a', CLAIM_MS)).toEqual(['dead']);
      await registry.remove('dead'); // cleaned up after
      await outlastClaim(clock);
      expect(await registry.claimDead('a', CLAIM_MS)).toEqual([]);
      expect(await registry.liveCount()).toBe(1);
    });

    it('counts a node live again once it renews after its lease ran out', async () => {
      const { clock, registry } = await region();
      await registry.renew('late', 1_000);
      clock.advance(1_001);
      expect(await registry.liveCount()).toBe(0);
      await registry.renew('late', LEASE_MS); // a node that was only slow
      expect(await registry.liveCount()).toBe(1);
      expect(await registry.claimDead('a', CLAIM_MS)).toEqual([]);
    });
  });
}
