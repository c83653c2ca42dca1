import type { EnvelopeText } from '../../shared';
import type { Logger } from '../log';
import type { GroupEntry } from '../streams/group-stream';
import { entryTimeMs, type InboundBus } from './bus';
import type { BusMetrics } from './metrics';

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
