import type { EnvelopeText } from '../../shared';
import type { Logger } from '../log';
import { OutboxReader } from '../outbox';
import type { RedisClient } from '../redis';
import { StreamWorker } from '../streams/worker';
import type { InboundBus } from './bus';
import { ForwardPolicy } from './inbound-shards';
import type { FailureStreak } from '../failure-streak';
import type { RegionLease } from './lease';
import type { BusMetrics } from './metrics';

/** Deadline of each call to the regional Redis and of each batch's appends to the peer. */
const CALL_DEADLINE_MS = 5_000;

export interface ForwarderDeps {
  nodeId: string;
  /** The destination region. */
  peer: string;
  /** The outbox consumer group of this destination (`forward:{peer}`). */
  group: string;
  /** Regional Redis for non-blocking commands. */
  redis: RedisClient;
  /**
   * Each outbox stream with a dedicated regional connection for its blocking read: one on a single
   * server; one per publish group on a Redis Cluster (a room is in one group, so per-room order holds).
   */
  readers: readonly { stream: string; connection: RedisClient }[];
  /** The destination region's inbound shards, in its Redis. */
  bus: InboundBus;
  lease: RegionLease;
  metrics: BusMetrics;
  log: Logger;
  /** Failed forwarding attempts (counted, logged once per streak). */
  failures: FailureStreak;
  batchSize: number;
  /** Batches appended to the peer and not yet answered, at most. */
  inFlight: number;
  /** Longest wait for new outbox entries; kept below a third of the lease so renewals keep up. */
  blockMs: number;
  /** Pause after a failure (the peer or the regional Redis unreachable) before retrying. */
  retryMs: number;
  /** Outbox entries pending this long to a previous holder are taken over (besides at take-over). */
  claimIdleMs: number;
}

/**
 * Moves the region's outbox to one destination region's inbound shards (in that region's Redis, one
 * WAN hop away), in outbox order, on one node of the region at a time (the holder of that
 * destination's forwarder lease): the consumer-group worker over the outbox group `forward:{peer}`,
 * with `ForwardPolicy` as what it does with each batch. Each destination has its own group, lease
 * and connection, so a destination that is unreachable delays only itself. An outbox entry is
 * acknowledged only after its append succeeded, so while the destination is unreachable entries
 * wait in the outbox and flow, in order, when it returns. A retried batch may append some envelopes
 * twice; the destination drops them by id.
 *
 * New batches are appended without waiting for the previous batch's reply (up to `inFlight`, the
 * worker's ordered pipeline): the appends travel in order on one connection, so the destination
 * receives them in outbox order, and each batch is acknowledged only once it and every batch before
 * it succeeded. After a failure, nothing later is acknowledged; once every batch settled, forwarding
 * resumes from the entries still pending, oldest first, one batch at a time until none is left.
 */
export class Forwarder {
  /** One worker per outbox stream, all under the destination's one lease. */
  private readonly workers: StreamWorker<EnvelopeText>[];

  constructor(private readonly deps: ForwarderDeps) {
    deps.metrics.forwarderActive.set({ peer: deps.peer }, 0);
    this.workers = deps.readers.map(({ stream, connection }) => this.worker(stream, connection));
  }

  private worker(stream: string, connection: RedisClient): StreamWorker<EnvelopeText> {
    const { deps } = this;
    return new StreamWorker<EnvelopeText>({
      // A lost acknowledgement only means an envelope is appended again, which the destination drops.
      stream: new OutboxReader(deps.redis, connection, deps.group, deps.nodeId, stream, {
        acksBehindReads: {
          onFailure: (err) => deps.failures.failed(err, 'ack failed; entries stay pending'),
        },
      }),
      policy: new ForwardPolicy(deps),
      batchSize: deps.batchSize,
      blockMs: deps.blockMs,
      claimIdleMs: deps.claimIdleMs,
      lease: deps.lease,
      ack: 'await',
      inFlight: deps.inFlight,
      retry: { minMs: deps.retryMs, maxMs: deps.retryMs },
      callDeadlineMs: CALL_DEADLINE_MS,
      failures: deps.failures,
      onClaim: (count) => deps.log.info({ entries: count }, 'took over pending outbox entries'),
      onLease: (held) => {
        deps.metrics.forwarderActive.set({ peer: deps.peer }, held ? 1 : 0);
        deps.log.info({ active: held }, held ? 'forwarder active' : 'forwarder lease lost');
      },
    });
  }

  start(): void {
    for (const worker of this.workers) worker.start();
  }

  /** Stops after the batches in hand and hands the lease over at once. */
  async stop(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop()));
    // A read still waiting at the server hands its entries to this consumer; the next holder
    // claims them at take-over.
    for (const { connection } of this.deps.readers) connection.disconnect();
  }
}
