import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';

/** What a publish retry is answered with: the first attempt's ack, and who it belonged to. */
export interface PublishRecord {
  id: string;
  ts: number;
  room: string;
  user: string;
}

export type ClaimResult = { fresh: true } | { fresh: false; record: PublishRecord };

/**
 * Remembers publish ids for the idempotency window, region-wide in the regional Redis
 * (`SET rt:ack:{id} NX EX`), so a retry that lands on another node of the region is still recognised.
 * A small in-memory map on each node answers retries to the same node even while Redis is down.
 */
export class PublishIdempotency {
  private readonly recent = new Map<string, PublishRecord>();

  constructor(
    private readonly redis: Redis,
    private readonly windowS: number,
    private readonly deps: { log: Logger; metrics: RegionMetrics },
    private readonly localCapacity = 10_000,
  ) {}

  async claim(record: PublishRecord): Promise<ClaimResult> {
    const known = this.recent.get(record.id);
    if (known) return { fresh: false, record: known };
    try {
      const key = `rt:ack:${record.id}`;
      const set = await this.redis.set(key, JSON.stringify(record), 'EX', this.windowS, 'NX');
      if (set !== 'OK') {
        const stored = await this.redis.get(key);
        if (stored) return { fresh: false, record: JSON.parse(stored) as PublishRecord };
      }
    } catch (err) {
      this.deps.metrics.internalErrors.inc({ component: 'idempotency' });
      this.deps.log.warn(
        { err: (err as Error).message, id: record.id },
        'idempotency check on this node only',
      );
    }
    this.remember(record);
    return { fresh: true };
  }

  /** Forgets a claim whose publish failed afterwards, so the client's retry is not mistaken for a duplicate. */
  async release(id: string): Promise<void> {
    this.recent.delete(id);
    await this.redis.del(`rt:ack:${id}`).catch(() => undefined);
  }

  private remember(record: PublishRecord): void {
    this.recent.set(record.id, record);
    if (this.recent.size > this.localCapacity) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }
}
