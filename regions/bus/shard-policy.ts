import type { Envelope } from '../../shared';
import type { Logger } from '../log';
import type { RoomDelivery } from '../publish/delivery';
import type { GroupEntry } from '../streams/group-stream';
import { entryTimeMs } from './bus';
import type { BusMetrics } from './metrics';

export interface ShardPolicyDeps {
  region: string;
  /**
   * Marks envelope ids as delivered in this region, per id whether it was new; rejects, marking
   * nothing, when this node no longer holds the shard (`markNewUnderLease` in the regional Redis).
   */
  markNew(ids: readonly string[]): Promise<boolean[]>;
  delivery: Pick<RoomDelivery, 'deliver'>;
  metrics: BusMetrics;
  log: Logger;
}

/**
 * What a shard consumer does with each batch of inbound entries handed by the worker: skips its own
 * region's envelopes, drops ids already delivered in the region (marked under the shard lease, one
 * round trip), and emits the rest region-wide in entry order. Throwing (the lease lost) leaves the
 * batch pending for the next holder.
 */
export class ShardPolicy {
  constructor(
    private readonly shard: number,
    private readonly deps: ShardPolicyDeps,
  ) {}

  async handle(entries: GroupEntry<Envelope>[]): Promise<void> {
    const { metrics, delivery, region } = this.deps;
    const foreign = entries.filter((e) => e.value && e.value.origin !== region);
    const fresh = foreign.length > 0 ? await this.deps.markNew(foreign.map((e) => e.value!.id)) : [];
    const now = Date.now();
    foreign.forEach((entry, i) => {
      if (!fresh[i]) {
        metrics.duplicatesDropped.inc();
        metrics.consumed.inc({ result: 'duplicate' });
        return;
      }
      delivery.deliver(entry.value!, 'bus');
      metrics.consumed.inc({ result: 'delivered' });
      metrics.lag.observe(Math.max(0, now - entry.value!.ts) / 1000);
      metrics.inboundWait.observe(Math.max(0, now - entryTimeMs(entry.id)) / 1000);
    });
    for (const entry of entries) {
      if (!entry.value) {
        metrics.consumed.inc({ result: 'invalid' });
        this.deps.log.error({ shard: this.shard, entry: entry.id }, 'undecodable inbound entry skipped');
      } else if (entry.value.origin === region) metrics.consumed.inc({ result: 'own' });
    }
  }
}
