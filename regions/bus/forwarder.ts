import type { RedisClient } from '../redis';
import { decodeEntry, type EncodedEnvelope } from '../../shared';
import type { Logger } from '../log';
import { OUTBOX_STREAM, type RegionalOutbox } from '../outbox';
import type { InboundBus } from './bus';
import type { FailureStreak } from './failures';
import type { RegionLease } from './lease';
import type { BusMetrics } from './metrics';
import { setTimeout as sleep } from 'node:timers/promises';

type OutboxEntry = [id: string, fields: string[]];

export interface ForwarderDeps {
  nodeId: string;
  /** The destination region. */
  peer: string;
  /** The outbox consumer group of this destination (`forward:{peer}`). */
  group: string;
  /** Regional Redis for non-blocking commands. */
  redis: RedisClient;
  /** A dedicated regional connection for the blocking outbox read. */
  reader: RedisClient;
  outbox: RegionalOutbox;
  /** The destination region's inbound shards, in its Redis. */
  bus: InboundBus;
  lease: RegionLease;
  metrics: BusMetrics;
  log: Logger;
  /** Failed forwarding attempts (counted, logged once per streak). */
  failures: FailureStreak;
  /** Failed outbox trims. */
  trimFailures: FailureStreak;
  batchSize: number;
  /** Batches appended to the global bus and not yet answered, at most (see `Forwarder`). */
  inFlight: number;
  /** Longest wait for new outbox entries; kept below a third of the lease so renewals keep up. */
  blockMs: number;
  /** Pause after a failure (global or regional Redis unreachable) before retrying. */
  retryMs: number;
  /** How often the holder trims the outbox below what every group acknowledged. */
  trimIntervalMs: number;
}

/**
 * Moves the region's outbox to one destination region's inbound shards (in that region's Redis, one
 * WAN hop away), in outbox order, on one node of the region at a time (the holder of that
 * destination's forwarder lease). Each destination has its own outbox group, lease and connection,
 * so a destination that is unreachable delays only itself. An outbox entry is acknowledged only after
 * the append succeeded, so while the destination is unreachable entries wait in the outbox and flow,
 * in order, when it returns. A retried batch may append some envelopes twice; the destination drops
 * them by id.
 *
 * New entries are appended without waiting for the previous batch's reply (up to `inFlight`
 * batches): the appends travel in order on one connection, so the bus receives them in outbox order,
 * and each batch is acknowledged in the outbox only once it and every batch before it succeeded.
 * After a failure, no later batch is acknowledged; once all have settled, forwarding resumes from
 * the entries still pending in the outbox, oldest first, one batch at a time until none is left.
 */
export class Forwarder {
  private stopped = false;
  private running: Promise<void> | undefined;
  private active = false;
  /** True while entries pending in the outbox group (ours or a previous holder's) must go first. */
  private backlog = true;
  private lastTrim = 0;
  private trimming = false;
  /** Batches being appended, oldest first: each settles after its append and outbox ack. */
  private inFlight: Promise<void>[] = [];
  /** The last batch's append-and-ack, which the next batch's ack waits for (acks in outbox order). */
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ForwarderDeps) {
    deps.metrics.forwarderActive.set({ peer: deps.peer }, 0);
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Stops after the current batch and hands the lease over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.reader.disconnect();
    await this.running;
    if (this.active) await this.deps.lease.release().catch(() => undefined);
    this.deps.metrics.forwarderActive.set({ peer: this.deps.peer }, 0);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!(await this.holdLease())) {
          await sleep(this.deps.retryMs);
          continue;
        }
        await this.step();
        if (this.deps.failures.failing && !this.backlog)
          this.deps.failures.succeeded({ peer: this.deps.peer });
      } catch (err) {
        await this.drain();
        if (this.stopped) break;
        this.backlog = true;
        this.deps.failures.failed(err, 'forwarding paused; outbox keeps envelopes', { peer: this.deps.peer });
        await sleep(this.deps.retryMs);
      }
    }
    await this.drain();
  }

  /** Waits until every batch in flight has settled (appended and acknowledged, or failed). */
  private async drain(): Promise<void> {
    const batches = this.inFlight;
    this.inFlight = [];
    await Promise.allSettled(batches);
    this.tail = Promise.resolve();
  }

  private async holdLease(): Promise<boolean> {
    const held = await this.deps.lease.acquire();
    if (held !== this.active) {
      // Lost or taken: batches a previous tenure left in flight settle before anything else.
      await this.drain();
      this.active = held;
      this.backlog = true;
      this.deps.metrics.forwarderActive.set({ peer: this.deps.peer }, held ? 1 : 0);
      this.deps.log.info({ active: held }, held ? 'forwarder active' : 'forwarder lease lost');
    }
    return held;
  }

  private async step(): Promise<void> {
    if (Date.now() - this.lastTrim >= this.deps.trimIntervalMs) this.trim();
    if (this.backlog) {
      // A claim takes everything pending, in flight included: nothing may be in flight here.
      await this.drain();
      const entries = await this.claimBacklog();
      if (entries.length === 0) this.backlog = false;
      else await this.forward(entries);
      return;
    }
    // A failed batch ends the step; the run loop drains the rest and switches to the backlog.
    while (this.inFlight.length >= this.deps.inFlight) await this.inFlight.shift();
    const entries = await this.readNew();
    // A batch that failed meanwhile set `backlog`: appending more now could put them on the bus
    // ahead of its retry. What was just read stays pending and follows it, in order.
    if (this.backlog) return;
    if (entries.length > 0) this.inFlight.push(this.forward(entries));
  }

  /** Entries a previous holder (or this node before a failure) read and did not acknowledge. */
  private async claimBacklog(): Promise<OutboxEntry[]> {
    const { redis, nodeId, batchSize, group } = this.deps;
    const reply = (await redis.xautoclaim(OUTBOX_STREAM, group, nodeId, 0, '0-0', 'COUNT', batchSize)) as [
      string,
      OutboxEntry[],
    ];
    return reply[1];
  }

  private async readNew(): Promise<OutboxEntry[]> {
    const { reader, nodeId, batchSize, blockMs, group } = this.deps;
    const reply = (await reader.xreadgroup(
      'GROUP',
      group,
      nodeId,
      'COUNT',
      batchSize,
      'BLOCK',
      blockMs,
      'STREAMS',
      OUTBOX_STREAM,
      '>',
    )) as [string, OutboxEntry[]][] | null;
    return reply?.[0]?.[1] ?? [];
  }

  /**
   * Appends the batch at once and acknowledges it after its append and the previous batch's
   * append-and-ack succeeded, so outbox acks follow outbox order and stop at the first failure.
   */
  private forward(entries: OutboxEntry[]): Promise<void> {
    // Decoded for the room only: the envelope's bytes go on as they were stored.
    const envelopes: EncodedEnvelope[] = [];
    for (const [id, fields] of entries) {
      const encoded = decodeEntry(fields);
      if (encoded) envelopes.push(encoded);
      else this.deps.log.error({ outboxId: id }, 'undecodable outbox entry skipped');
    }
    const appended = this.deps.bus.publish(envelopes).catch((err: unknown) => {
      this.deps.metrics.publishFailures.inc({ peer: this.deps.peer });
      this.backlog = true;
      throw err;
    });
    // Handled here too: when an earlier batch failed, `done` never awaits this one.
    appended.catch(() => undefined);
    const previous = this.tail;
    const done = (async () => {
      await previous;
      await appended;
      this.deps.metrics.published.inc({ peer: this.deps.peer }, envelopes.length);
      await this.deps.redis.xack(OUTBOX_STREAM, this.deps.group, ...entries.map(([id]) => id));
    })();
    // Batches behind a failure reject with it and are awaited by `drain` only.
    done.catch(() => undefined);
    this.tail = done;
    return done;
  }

  /** Trimming is housekeeping: it runs beside forwarding, and its failure never holds it up. */
  private trim(): void {
    if (this.trimming) return;
    this.trimming = true;
    this.lastTrim = Date.now();
    void (async () => {
      try {
        await this.deps.outbox.trimAcknowledged();
        this.deps.trimFailures.succeeded();
      } catch (err) {
        this.deps.trimFailures.failed(err, 'outbox trim failed; retried at the next interval');
      } finally {
        this.trimming = false;
      }
    })();
  }
}
