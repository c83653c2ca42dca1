import { setTimeout as sleep } from 'node:timers/promises';
import type { FailureStreak } from '../failure-streak';
import type { GroupEntry, GroupStream } from './group-stream';
import { OrderedPipeline } from './ordered-pipeline';

/** What a worker does with each batch. Throwing leaves the batch pending: it is handed again. */
export interface BatchPolicy<T> {
  /**
   * Resolves with the ids of entries the policy acknowledged itself, in the same step as its work
   * (the worker acknowledges the others), or with nothing.
   */
  handle(entries: GroupEntry<T>[]): Promise<void | { acknowledged: readonly string[] }>;
}

/** A lease that makes this worker the only consumer of its group while held. */
export interface WorkerLease {
  /** Takes or renews the lease; false when another holder has it. */
  acquire(): Promise<boolean>;
  release(): Promise<void>;
  readonly ttlMs: number;
}

export interface StreamWorkerOptions<T> {
  stream: GroupStream<T>;
  policy: BatchPolicy<T>;
  batchSize: number;
  /** Longest wait of one read for new entries. */
  blockMs: number;
  /**
   * After a batch of new entries smaller than `batchSize`, wait this long before reading again, so
   * a steady trickle is handled in batches rather than one call per entry (for work that can wait,
   * e.g. history, whose per-call cost would otherwise compete with live delivery). Default 0.
   */
  gatherMs?: number;
  /** Entries pending this long to another consumer are taken over (that consumer died). */
  claimIdleMs: number;
  /**
   * With a lease, at every (re)acquisition everything pending in the group is taken over at once
   * (idle 0: the lease makes this the only reader); without one, only entries idle `claimIdleMs`.
   */
  lease?: WorkerLease;
  /**
   * True when something outside (e.g. a shard lease the caller holds) makes this the group's only
   * consumer: at start everything pending is taken over at once, as with `lease`.
   */
  exclusive?: boolean;
  /**
   * Called with a failure before it is counted: returns true when it repaired the cause (e.g. created
   * a missing group), and the loop goes on without back-off.
   */
  recover?(err: unknown): Promise<boolean>;
  /** `await`: ack before the next batch; `background`: send it and go on (a lost ack only re-reads). */
  ack: 'await' | 'background';
  /**
   * New batches whose handling may be outstanding at once (default 1). Above 1, the next read is
   * issued while earlier batches are still being handled, and batches are acknowledged strictly in
   * order, each after its own handling and every earlier ack; after a failure nothing later is
   * acknowledged, and once every batch settled the worker goes back to its own pending entries, one
   * batch at a time, before pipelining again. For a policy whose work is a round trip far away.
   */
  inFlight?: number;
  /** Back-off after a failure: doubles from `min` up to `max`. */
  retry: { minMs: number; maxMs: number };
  /** Deadline of every call to the stream, the policy's and the blocking read's (plus `blockMs`). */
  callDeadlineMs: number;
  /**
   * Deadline of one batch's handling, when it differs from `callDeadlineMs`: for a policy that makes
   * several bounded calls per batch, the sum of their deadlines, so that a batch is never handed again
   * while its first handling still runs.
   */
  handleDeadlineMs?: number;
  /** Counts each failure and logs it once per streak. */
  failures: FailureStreak;
  /** Failed acks, when they are counted apart (default: `failures`). */
  ackFailures?: FailureStreak;
  /** Called with how many entries were taken over from other consumers. */
  onClaim?(count: number): void;
  /** Called when the lease is gained or lost. */
  onLease?(held: boolean): void;
}

/** A call to the stream or the policy that did not settle within its deadline. */
export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/**
 * One consumer of a consumer group, as a loop: (lease) -> own pending first -> claim idle entries
 * of others -> read new (blocking) -> handle the batch -> ack -> on error, back off and start again
 * from own pending. Every call has a deadline, so a hung Redis neither hangs the loop nor `stop`.
 * What a batch means is the policy's; the loop is the same for every consumer.
 */
export class StreamWorker<T> {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private ownPendingFirst = true;
  private takeover = true;
  private nextClaimAt = 0;
  private leaseHeld = false;
  private leaseRenewedAt = 0;
  private readonly acks = new Set<Promise<void>>();
  private readonly pipeline: OrderedPipeline;

  constructor(private readonly options: StreamWorkerOptions<T>) {
    this.pipeline = new OrderedPipeline(Math.max(1, options.inFlight ?? 1));
  }

  start(): void {
    this.running ??= this.run();
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Ends the waiting read, lets the batch in hand finish (within its deadline), releases the lease. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    await this.pipeline.drain();
    await Promise.allSettled(this.acks);
    // Before the lease goes: a next holder then takes over only what was not handled.
    if (this.options.stream.flush)
      await this.bounded('ack', this.options.stream.flush()).catch(() => undefined);
    if (this.leaseHeld && this.options.lease) {
      await this.bounded('lease release', this.options.lease.release()).catch(() => undefined);
      this.setLease(false);
    }
  }

  private async run(): Promise<void> {
    const { retry, failures } = this.options;
    let backoffMs = retry.minMs;
    while (!this.stopped) {
      try {
        if (!(await this.holdLease())) {
          await sleep(retry.minMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
          continue;
        }
        await this.step();
        failures.succeeded();
        backoffMs = retry.minMs;
      } catch (err) {
        // Batches outstanding behind the failure settle first: their entries are pending again.
        await this.pipeline.drain();
        if (this.stopped) break;
        this.ownPendingFirst = true;
        await this.options.stream.reset?.().catch(() => undefined);
        if (await this.options.recover?.(err).catch(() => false)) continue;
        failures.failed(err, 'stream consumer paused; entries stay pending');
        await sleep(backoffMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
        backoffMs = Math.min(backoffMs * 2, retry.maxMs);
      }
    }
  }

  /** Without a lease: always true. With one: renews it at most every third of its TTL. */
  private async holdLease(): Promise<boolean> {
    const { lease } = this.options;
    if (!lease) return true;
    if (this.leaseHeld && Date.now() - this.leaseRenewedAt < lease.ttlMs / 3) return true;
    const held = await this.bounded('lease', lease.acquire());
    if (held) this.leaseRenewedAt = Date.now();
    if (held !== this.leaseHeld) {
      await this.pipeline.drain();
      this.setLease(held);
      // A new tenure starts from what any previous holder (or this one) left pending.
      this.takeover = true;
      this.ownPendingFirst = true;
      await this.options.stream.reset?.();
    }
    return held;
  }

  private setLease(held: boolean): void {
    this.leaseHeld = held;
    this.options.onLease?.(held);
  }

  private async step(): Promise<void> {
    const { stream, batchSize, claimIdleMs } = this.options;
    const exclusive = Boolean(this.options.lease ?? this.options.exclusive);
    const claimDue = this.takeover || Date.now() >= this.nextClaimAt;
    // Pending and claimed entries include those of batches in flight: nothing may be in flight.
    if ((this.ownPendingFirst || claimDue) && !this.pipeline.empty) await this.pipeline.drain();
    // The only consumer: what anyone left pending (this consumer included) goes first, oldest first.
    if (this.takeover && exclusive) {
      const claimed = await this.bounded('claim', stream.claim(0, batchSize));
      if (claimed.length > 0) return this.handleClaimed(claimed);
      this.takeover = false;
      this.ownPendingFirst = false;
      this.nextClaimAt = Date.now() + claimIdleMs;
    }
    if (this.ownPendingFirst) {
      const own = await this.bounded('pending read', stream.readPending(batchSize));
      if (own.length > 0) return this.handle(own);
      this.ownPendingFirst = false;
    }
    if (this.takeover || Date.now() >= this.nextClaimAt) {
      const claimed = await this.bounded('claim', stream.claim(claimIdleMs, batchSize));
      if (claimed.length > 0) return this.handleClaimed(claimed);
      this.takeover = false;
      this.nextClaimAt = Date.now() + (exclusive ? claimIdleMs : Math.max(500, claimIdleMs / 2));
    }
    const fresh = await this.bounded(
      'read',
      stream.readNew({ count: batchSize, blockMs: this.options.blockMs, signal: this.abort.signal }),
      this.options.blockMs,
    );
    if (fresh.length === 0 || this.stopped) return;
    // A batch failed while this read waited: these stay pending and follow its retry, in order.
    if (this.pipeline.failed) throw this.pipeline.failed.err;
    if (this.options.inFlight && this.options.inFlight > 1) return this.pipelined(fresh);
    await this.handle(fresh);
    const { gatherMs = 0 } = this.options;
    if (gatherMs > 0 && fresh.length < batchSize && !this.stopped)
      await sleep(gatherMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  private pipelined(entries: GroupEntry<T>[]): Promise<void> {
    let rest: string[] = [];
    const work = this.handleBounded(entries).then(
      (acknowledged) => void (rest = unacknowledged(entries, acknowledged)),
    );
    return this.pipeline.add(work, () => this.bounded('ack', this.options.stream.ack(rest)));
  }

  private handleClaimed(entries: GroupEntry<T>[]): Promise<void> {
    this.options.onClaim?.(entries.length);
    return this.handle(entries);
  }

  private async handle(entries: GroupEntry<T>[]): Promise<void> {
    const rest = unacknowledged(entries, await this.handleBounded(entries));
    if (rest.length === 0) return;
    const ack = this.bounded('ack', this.options.stream.ack(rest));
    if (this.options.ack === 'await') return ack;
    const failures = this.options.ackFailures ?? this.options.failures;
    const sent = ack.then(
      () => failures.succeeded(),
      // A lost ack leaves the entries pending: read again after a failure or a take-over.
      (err: unknown) => failures.failed(err, 'ack failed; entries stay pending'),
    );
    this.acks.add(sent);
    void sent.finally(() => this.acks.delete(sent));
  }

  /** The policy's work on a batch; resolves with the ids it acknowledged itself. */
  private async handleBounded(entries: GroupEntry<T>[]): Promise<readonly string[]> {
    const { handleDeadlineMs, callDeadlineMs } = this.options;
    const extraMs = handleDeadlineMs === undefined ? 0 : handleDeadlineMs - callDeadlineMs;
    const handled = await this.bounded('batch', this.options.policy.handle(entries), extraMs);
    return handled ? handled.acknowledged : [];
  }

  /** `work` or a DeadlineError after `callDeadlineMs` (+ `extraMs` for a blocking read). */
  private bounded<R>(what: string, work: Promise<R>, extraMs = 0): Promise<R> {
    const ms = this.options.callDeadlineMs + extraMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
    });
    work.catch(() => undefined); // settled after the deadline: nothing waits for it any more
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }
}

/** The ids of `entries` a policy did not acknowledge itself. */
function unacknowledged<T>(entries: GroupEntry<T>[], acknowledged: readonly string[]): string[] {
  const ids = entries.map((e) => e.id);
  if (acknowledged.length === 0) return ids;
  const done = new Set(acknowledged);
  return ids.filter((id) => !done.has(id));
}
