import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SocketState } from './state';

const principal = { user: 'u1', rooms: ['*'], exp: 2_000_000_000 };
const rates = {
  publishPerSecond: 2,
  requestsPerSecond: 3,
  answerBytesPerSecond: 1_000,
  answerBytesBurst: 5_000,
};

describe('SocketState', () => {
  // The buckets refill on the clock: a frozen clock keeps a slow run from refilling them mid-test.
  beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => void vi.useRealTimers());

  it('gives each connection full buckets at its rates, one per kind, kept across uses', () => {
    const state = new SocketState(principal, rates);
    // Burst is twice the rate: 4 publishes, then refused; requests are counted apart (6).
    expect([1, 2, 3, 4, 5].map(() => state.publishBucket.take())).toEqual([true, true, true, true, false]);
    expect(Array.from({ length: 7 }, () => state.requestBucket.take()).filter(Boolean)).toHaveLength(6);
    expect(state.publishBucket).toBe(state.publishBucket);
    state.answerBucket.spend(5_000);
    expect(state.answerBucket.hasAny()).toBe(false);
    vi.advanceTimersByTime(500);
    expect(state.publishBucket.take()).toBe(true);
    expect(state.answerBucket.hasAny()).toBe(true);
  });

  it('does not share buckets between connections', () => {
    const a = new SocketState(principal, rates);
    const b = new SocketState(principal, rates);
    for (let i = 0; i < 4; i++) a.publishBucket.take();
    expect(a.publishBucket.take()).toBe(false);
    expect(b.publishBucket.take()).toBe(true);
  });
});
