/** A token bucket: `ratePerSecond` refill, `burst` capacity. In memory, for one connection. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** True when some tokens are left (for a cost known only afterwards: see `spend`). */
  hasAny(): boolean {
    this.refill();
    return this.tokens > 0;
  }

  /** Takes `amount` tokens, going into debt if need be: the debt is paid by the refill first. */
  spend(amount: number): void {
    this.refill();
    this.tokens -= amount;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }
}
