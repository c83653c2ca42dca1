/**
 * Batches whose work runs concurrently but whose completions run in order: a batch completes (e.g.
 * is acknowledged) only after its own work and every earlier batch's completion succeeded, so
 * completions stop at the first failure. At most `depth` batches are outstanding.
 */
export class OrderedPipeline {
  private outstanding: Promise<void>[] = [];
  private tail: Promise<void> = Promise.resolve();
  private failure: { err: unknown } | undefined;

  constructor(private readonly depth: number) {}

  get empty(): boolean {
    return this.outstanding.length === 0;
  }

  /** The first failure since the last `drain`, if any. */
  get failed(): { err: unknown } | undefined {
    return this.failure;
  }

  /**
   * Adds a batch whose `work` has started; `complete` runs once it and every earlier batch are done.
   * Resolves when there is room for another batch; rejects with the first failure, if any.
   */
  async add(work: Promise<void>, complete: () => Promise<void>): Promise<void> {
    work.catch(() => undefined); // awaited below, or never when an earlier batch failed
    const previous = this.tail;
    const done = (async () => {
      await previous;
      await work;
      await complete();
    })();
    done.catch((err: unknown) => (this.failure ??= { err }));
    this.tail = done;
    this.outstanding.push(done);
    while (this.outstanding.length >= this.depth) await this.outstanding.shift()!.catch(() => undefined);
    if (this.failure) throw this.failure.err;
  }

  /** Waits until every batch settled, and forgets the failure (its batches stay to be retried). */
  async drain(): Promise<void> {
    const outstanding = this.outstanding;
    this.outstanding = [];
    await Promise.allSettled(outstanding);
    this.tail = Promise.resolve();
    this.failure = undefined;
  }
}
