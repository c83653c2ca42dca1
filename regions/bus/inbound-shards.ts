import type { EncodedEnvelope, EnvelopeText } from '../../shared';
import type { Logger } from '../log';
import type { RoomDelivery } from '../publish/delivery';
import type { GroupEntry, GroupStream, ReadNewOptions } from '../streams/group-stream';
import { entryTimeMs, type BusEntry, type InboundBus } from './bus';
import type { BusMetrics } from './metrics';

// The inbound shards as the consumer-group workers (regions/streams/worker.ts) meet them, at both
// ends: a forwarder appends a batch of its region's outbox to a peer's shards (`ForwardPolicy`),
// and a shard consumer reads one of its own region's shards (`shardStream`) and delivers what is
// new (`ShardPolicy`). The workers themselves are assembled in forwarder.ts and shard-consumer.ts.

/**
 * What forwarding does with each batch of outbox entries handed by the worker: appends their
 * envelopes, with their stored bytes, to one destination region's inbound shards, and counts it.
 * Throwing leaves the batch pending in the outbox (the worker hands it again).
 */
export class ForwardPolicy {
  constructor(
    private readonly deps: {
      /** The destination region. */
      peer: string;
      /** The destination region's inbound shards, in its Redis. */
      bus: InboundBus;
      metrics: BusMetrics;
      log: Logger;
    },
  ) {}

  async handle(entries: GroupEntry<EnvelopeText>[]): Promise<void> {
    const envelopes: EnvelopeText[] = [];
    for (const entry of entries) {
      if (entry.value) envelopes.push(entry.value);
      else this.deps.log.error({ outboxId: entry.id }, 'undecodable outbox entry skipped');
    }
    const sent = this.deps.bus.publish(envelopes);
    const now = Date.now();
    for (const entry of entries)
      this.deps.metrics.forwardWait.observe(
        { peer: this.deps.peer },
        Math.max(0, now - entryTimeMs(entry.id)) / 1000,
      );
    try {
      await sent;
    } catch (err) {
      this.deps.metrics.publishFailures.inc({ peer: this.deps.peer });
      throw err;
    }
    this.deps.metrics.published.inc({ peer: this.deps.peer }, envelopes.length);
  }
}

export interface ShardStreamOptions {
  shard: number;
  group: string;
  consumer: string;
  /** Entries per read. */
  count: number;
  blockMs: number;
  /** Waiting reads kept outstanding (see `ReadAhead`). */
  readAhead: number;
}

function toEntries(entries: BusEntry[]): GroupEntry<EncodedEnvelope>[] {
  return entries.map((e) => ({ id: e.id, value: e.envelope }));
}

/**
 * One inbound shard as one consumer of the region's group sees it, for a `StreamWorker`; new
 * entries come through `ReadAhead`, so the next read already waits at the server when one returns.
 */
export function shardStream(bus: InboundBus, options: ShardStreamOptions): GroupStream<EncodedEnvelope> {
  const { shard, group, consumer, count } = options;
  const stopped = new AbortController();
  const reads = new ReadAhead(bus, {
    shard,
    group,
    consumer,
    count,
    blockMs: options.blockMs,
    depth: Math.max(1, options.readAhead),
    signal: stopped.signal,
  });
  let linked = false;
  return {
    async readNew(read: ReadNewOptions) {
      if (!linked) {
        // The worker's signal ends it for good: every read outstanding ahead is closed with it.
        linked = true;
        read.signal.addEventListener('abort', () => stopped.abort(), { once: true });
        if (read.signal.aborted) stopped.abort();
      }
      return toEntries(await reads.next());
    },
    readPending: async (n) => toEntries(await bus.readPending(shard, group, consumer, n)),
    claim: async (minIdleMs, n) => toEntries(await bus.claim(shard, group, consumer, minIdleMs, n)),
    ack: (ids) => bus.ack(shard, group, ids),
    reset: () => reads.reset(),
  };
}

interface ReadAheadOptions {
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
class ReadAhead {
  private reads: Promise<BusEntry[]>[] = [];
  private controller = new AbortController();

  constructor(
    private readonly bus: InboundBus,
    private readonly options: ReadAheadOptions,
  ) {
    // One listener for the consumer's lifetime rather than a combined signal per read.
    options.signal.addEventListener('abort', () => this.controller.abort(), { once: true });
  }

  /**
   * The next batch of new entries, in shard order (empty when a read waited `blockMs` in vain).
   * Reads are topped up once half of them were used, all in the same turn, so they leave in one
   * write (`RedisStreamsBus` holds the connection's writes for the turn) rather than one write per batch.
   */
  async next(): Promise<BusEntry[]> {
    const { depth } = this.options;
    if (this.reads.length <= Math.floor(depth / 2))
      while (this.reads.length < depth && !this.options.signal.aborted) this.reads.push(this.read());
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

/** What marking a batch's ids answered. */
export interface MarkResult {
  /** Per id, whether it was new (to be emitted) or seen before (a duplicate). */
  fresh: boolean[];
  /** The batch's entries acknowledged in the same step (on one Redis server: all of them). */
  acknowledged: readonly string[];
}

export interface ShardPolicyDeps {
  region: string;
  /**
   * Marks envelope ids as delivered in this region, and where the marks and the shard share a slot
   * acknowledges the batch's `entries` in the same step; rejects, marking and acknowledging nothing,
   * when this node no longer holds the shard (`markNewUnderLease` in the regional Redis).
   */
  markNew(ids: readonly string[], entries: readonly string[]): Promise<MarkResult>;
  delivery: Pick<RoomDelivery, 'deliver'>;
  metrics: BusMetrics;
  log: Logger;
}

/**
 * What a shard consumer does with each batch of inbound entries handed by the worker: skips its own
 * region's envelopes, drops ids already delivered in the region (marked under the shard lease, one
 * round trip, which on one Redis server also acknowledges the batch), and emits the rest
 * region-wide in entry order, each with the JSON it was stored with. Throwing (the lease lost)
 * leaves the batch pending for the next holder.
 */
export class ShardPolicy {
  constructor(
    private readonly shard: number,
    private readonly deps: ShardPolicyDeps,
  ) {}

  async handle(entries: GroupEntry<EncodedEnvelope>[]): Promise<{ acknowledged: readonly string[] }> {
    const { metrics, delivery, region } = this.deps;
    const foreign = entries.filter((e) => e.value && e.value.envelope.origin !== region);
    const marked =
      foreign.length > 0
        ? await this.deps.markNew(
            foreign.map((e) => e.value!.envelope.id),
            entries.map((e) => e.id),
          )
        : { fresh: [], acknowledged: [] };
    const now = Date.now();
    foreign.forEach((entry, i) => {
      if (!marked.fresh[i]) {
        metrics.duplicatesDropped.inc();
        metrics.consumed.inc({ result: 'duplicate' });
        return;
      }
      delivery.deliver(entry.value!, 'bus');
      metrics.consumed.inc({ result: 'delivered' });
      metrics.lag.observe(Math.max(0, now - entry.value!.envelope.ts) / 1000);
      metrics.inboundWait.observe(Math.max(0, now - entryTimeMs(entry.id)) / 1000);
    });
    for (const entry of entries) {
      if (!entry.value) {
        metrics.consumed.inc({ result: 'invalid' });
        this.deps.log.error({ shard: this.shard, entry: entry.id }, 'undecodable inbound entry skipped');
      } else if (entry.value.envelope.origin === region) metrics.consumed.inc({ result: 'own' });
    }
    return { acknowledged: marked.acknowledged };
  }
}
