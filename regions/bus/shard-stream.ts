import type { Envelope } from '../../shared';
import type { GroupEntry, GroupStream, ReadNewOptions } from '../streams/group-stream';
import type { BusEntry, InboundBus } from './bus';
import { ReadAhead } from './read-ahead';

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

function toEntries(entries: BusEntry[]): GroupEntry<Envelope>[] {
  return entries.map((e) => ({ id: e.id, value: e.envelope }));
}

/**
 * One inbound shard as one consumer of the region's group sees it, for a `StreamWorker`; new
 * entries come through `ReadAhead`, so the next read already waits at the server when one returns.
 */
export function shardStream(bus: InboundBus, options: ShardStreamOptions): GroupStream<Envelope> {
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
