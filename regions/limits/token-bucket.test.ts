import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('allows a burst, then refills at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(2, 4, () => now);
    expect([1, 2, 3, 4, 5].map(() => bucket.take())).toEqual([true, true, true, true, false]);
    now += 500; // half a second at 2/s: one token back
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
    now += 10_000; // never more than the burst
    expect([1, 2, 3, 4, 5].map(() => bucket.take())).toEqual([true, true, true, true, false]);
  });

  it('spends a cost known afterwards, going into debt that the refill pays first', () => {
    let now = 0;
    const bytes = new TokenBucket(1_000, 2_000, () => now);
    expect(bytes.hasAny()).toBe(true);
    bytes.spend(5_000); // one answer bigger than the burst: 3,000 in debt
    expect(bytes.hasAny()).toBe(false);
    now += 2_500; // 2,500 back: still 500 in debt
    expect(bytes.hasAny()).toBe(false);
    now += 1_000;
    expect(bytes.hasAny()).toBe(true);
  });
});
