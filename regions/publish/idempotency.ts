import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RegionalOutbox } from '../outbox';
import type { Envelope } from '../../shared';

/** What a publish retry is answered with: the first attempt's ack, and who it belonged to. */
export interface PublishRecord {
  id: string;
  ts: number;
  room: string;
  user: string;
}

export type AcceptResult = { fresh: true } | { fresh: false; record: PublishRecord };

/**
 * Accepts each publish id once per idempotency window. The claim lives region-wide in the regional
 * Redis (`rt:ack:{id}`) and is made in the same atomic step as the append to the regional outbox, so
 * a retry that lands on another node of the region is answered with the first ack, and a claimed id
 * always has its envelope stored. A small in-memory map on each node answers retries to the same node
 * even while Redis is down.
 */
export class PublishIdempotency {
  private readonly recent = new Map<string, PublishRecord>();

  constructor(
    private readonly outbox: RegionalOutbox,
    private readonly windowS: number,
    private readonly deps: { log: Logger; metrics: RegionMetrics },
    private readonly localCapacity = 10_000,
  ) {}

  /** Claims `record.id` and queues `envelope`; a known id gets the first attempt's record instead. */
  async accept(record: PublishRecord, envelope: Envelope): Promise<AcceptResult> {
    const known = this.recent.get(record.id);
    if (known) return { fresh: false, record: known };
    const existing = await this.outbox.appendOnce(envelope, {
      key: `rt:ack:${record.id}`,
      value: JSON.stringify(record),
      ttlS: this.windowS,
    });
    if (existing !== null) return { fresh: false, record: JSON.parse(existing) as PublishRecord };
    this.remember(record);
    return { fresh: true };
  }

  private remember(record: PublishRecord): void {
    this.recent.set(record.id, record);
    if (this.recent.size > this.localCapacity) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }
}
