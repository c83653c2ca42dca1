import type { BusEntry, InboundBus } from './bus';

export interface ReadAheadOptions {
  shard: number;
  group: string;
  consumer: string;
  count: number;
  blockMs: number;
  /** Reads kept outstanding; 1 is a plain read loop. */
  depth: number;
  /** Ends every outstanding read (the consumer stopping). */
  signal: AbortSignal;
}

/**
 * Keeps `depth` waiting reads of new entries outstanding on the shard's read connection, so that
 * when one read returns, the next is already waiting at the server instead of one round trip away.
 * Redis serves a connection's commands one after the other and answers them in order, so batches
 * come back in shard order and are handed out in that order, one at a time.
 *
 * Every read that the server executed has made its entries pending to this consumer, answered or
 * not. `reset` (after a failure) and the consumer's signal (stop, lease lost) close the read
 * connection, so no outstanding read runs afterwards; what earlier ones handed out stays pending:
 * the consumer reads it back oldest first after a failure, and a successor claims it at take-over.
 */
export class ReadAhead {
  private reads: Promise<BusEntry[]>[] = [];
  private controller = new AbortController();

  constructor(
    private readonly bus: InboundBus,
    private readonly options: ReadAheadOptions,
  ) {
    // One listener for the consumer's lifetime rather than a combined signal per read.
    options.signal.addEventListener('abort', () => this.controller.abort(), { once: true });
  }

  /** The next batch of new entries, in shard order (empty when a read waited `blockMs` in vain). */
  async next(): Promise<BusEntry[]> {
    while (this.reads.length < this.options.depth && !this.options.signal.aborted)
      this.reads.push(this.read());
    const head = this.reads.shift();
    return head ? head : [];
  }

  /** Ends every outstanding read and waits until each has settled; their entries stay pending. */
  async reset(): Promise<void> {
    const outstanding = this.reads;
    this.reads = [];
    this.controller.abort();
    this.controller = new AbortController();
    if (this.options.signal.aborted) this.controller.abort();
    await Promise.allSettled(outstanding);
  }

  private read(): Promise<BusEntry[]> {
    const { shard, group, consumer, count, blockMs } = this.options;
    const read = this.bus.readNew(shard, group, consumer, { count, blockMs, signal: this.controller.signal });
    // A read behind a failed one may reject before it is awaited: not an unhandled rejection.
    read.catch(() => undefined);
    return read;
  }
}
