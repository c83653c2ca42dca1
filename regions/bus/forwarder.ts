import type { Redis } from 'ioredis';
import type { Envelope } from '../../shared';
import type { Logger } from '../log';
import { OUTBOX_STREAM, decodeEnvelope, type RegionalOutbox } from '../outbox';
import type { GlobalBus } from './bus';
import type { RegionLease } from './lease';
import type { BusMetrics } from './metrics';

const GROUP = 'forwarder';

type OutboxEntry = [id: string, fields: string[]];

export interface ForwarderDeps {
  nodeId: string;
  /** Regional Redis for non-blocking commands. */
  redis: Redis;
  /** A dedicated regional connection for the blocking outbox read. */
  reader: Redis;
  outbox: RegionalOutbox;
  bus: GlobalBus;
  lease: RegionLease;
  metrics: BusMetrics;
  log: Logger;
  batchSize: number;
  /** Longest wait for new outbox entries; kept below a third of the lease so renewals keep up. */
  blockMs: number;
  /** Pause after a failure (global or regional Redis unreachable) before retrying. */
  retryMs: number;
  /** How often the holder trims the outbox and applies the bus retention bound. */
  trimIntervalMs: number;
}

/**
 * Moves the region's outbox to the global bus, in outbox order, on one node of the region at a time
 * (the holder of the forwarder lease). An outbox entry is acknowledged only after the bus append
 * succeeded, so while the global Redis is unreachable entries wait in the outbox and flow, in order,
 * when it returns. A retried batch may append some envelopes twice; consumers drop them by id.
 */
export class Forwarder {
  private stopped = false;
  private running: Promise<void> | undefined;
  private active = false;
  /** True while entries pending in the outbox group (ours or a previous holder's) must go first. */
  private backlog = true;
  private lastTrim = 0;
  private failures = 0;

  constructor(private readonly deps: ForwarderDeps) {}

  start(): void {
    this.running ??= this.run();
  }

  /** Stops after the current batch and hands the lease over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.reader.disconnect();
    await this.running;
    if (this.active) await this.deps.lease.release().catch(() => undefined);
    this.deps.metrics.forwarderActive.set(0);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!(await this.holdLease())) {
          await sleep(this.deps.retryMs);
          continue;
        }
        await this.step();
        this.failures = 0;
      } catch (err) {
        if (this.stopped) break;
        this.failed(err as Error);
        await sleep(this.deps.retryMs);
      }
    }
  }

  private async holdLease(): Promise<boolean> {
    const held = await this.deps.lease.acquire();
    if (held !== this.active) {
      this.active = held;
      this.backlog = true;
      this.deps.metrics.forwarderActive.set(held ? 1 : 0);
      this.deps.log.info({ active: held }, held ? 'forwarder active' : 'forwarder lease lost');
    }
    return held;
  }

  private async step(): Promise<void> {
    if (Date.now() - this.lastTrim >= this.deps.trimIntervalMs) await this.trim();
    const entries = this.backlog ? await this.claimBacklog() : await this.readNew();
    if (this.backlog && entries.length === 0) {
      this.backlog = false;
      return;
    }
    if (entries.length > 0) await this.forward(entries);
  }

  /** Entries a previous holder (or this node before a failure) read and did not acknowledge. */
  private async claimBacklog(): Promise<OutboxEntry[]> {
    const { redis, nodeId, batchSize } = this.deps;
    const reply = (await redis.xautoclaim(OUTBOX_STREAM, GROUP, nodeId, 0, '0-0', 'COUNT', batchSize)) as [
      string,
      OutboxEntry[],
    ];
    return reply[1];
  }

  private async readNew(): Promise<OutboxEntry[]> {
    const { reader, nodeId, batchSize, blockMs } = this.deps;
    const reply = (await reader.xreadgroup(
      'GROUP',
      GROUP,
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

  private async forward(entries: OutboxEntry[]): Promise<void> {
    const envelopes: Envelope[] = [];
    for (const [id, fields] of entries) {
      const envelope = decodeEnvelope(fields);
      if (envelope) envelopes.push(envelope);
      else this.deps.log.error({ outboxId: id }, 'undecodable outbox entry skipped');
    }
    try {
      await this.deps.bus.publish(envelopes);
    } catch (err) {
      this.deps.metrics.publishFailures.inc();
      this.backlog = true;
      throw err;
    }
    this.deps.metrics.published.inc(envelopes.length);
    await this.deps.redis.xack(OUTBOX_STREAM, GROUP, ...entries.map(([id]) => id));
  }

  /** Trimming is housekeeping: its failure is logged and never holds up forwarding. */
  private async trim(): Promise<void> {
    this.lastTrim = Date.now();
    try {
      await this.deps.outbox.trimAcknowledged();
      this.deps.metrics.trimmed.inc(await this.deps.bus.trim());
    } catch (err) {
      this.deps.log.debug({ err: (err as Error).message }, 'trim skipped');
    }
  }

  /** Logs the first failure of a streak at warn and the rest at debug; every one is counted. */
  private failed(err: Error): void {
    this.backlog = true;
    const level = this.failures++ === 0 ? 'warn' : 'debug';
    this.deps.log[level](
      { err: err.message, failures: this.failures },
      'forwarding paused; outbox keeps envelopes',
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
