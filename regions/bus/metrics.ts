import type { Registry } from 'prom-client';
import { metricsOn } from '../metrics';

/** The bus's Prometheus metrics, registered on the node's registry. */
export class BusMetrics {
  readonly published;
  readonly publishFailures;
  readonly consumed;
  readonly duplicatesDropped;
  readonly lag;
  readonly forwardWait;
  readonly inboundWait;
  readonly outboxDepth;
  readonly claimed;
  readonly fallenBehind;
  readonly shardsOwned;
  readonly forwarderActive;
  readonly trimmed;

  /** `outboxDepth(peer)`: the outbox entries not yet forwarded to `peer`. */
  constructor(registry: Registry, peers: readonly string[], outboxDepth: (peer: string) => Promise<number>) {
    const { counter, gauge, histogram } = metricsOn(registry);
    const peer = ['peer'] as const;
    this.published = counter(
      'rt_bus_published_total',
      "Envelopes this node appended to a peer region's inbound shards (forwarder), by peer",
      peer,
    );
    this.publishFailures = counter(
      'rt_bus_publish_failures_total',
      "Forwarder batches that could not be appended to a peer's inbound shards (retried from the outbox)",
      peer,
    );
    this.consumed = counter(
      'rt_bus_consumed_total',
      'Bus entries this node handled, by result: delivered, own (origin here), duplicate, invalid',
      ['result'],
    );
    this.duplicatesDropped = counter(
      'rt_bus_duplicates_dropped_total',
      'Bus entries dropped because their envelope id was already delivered in this region',
    );
    this.lag = histogram(
      'rt_bus_lag_seconds',
      'Cross-region lag: time from acceptance in the origin region to emit here (see rt_delivery_latency_seconds)',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    );
    // Two legs of rt_bus_lag_seconds that happen in one region, each timed against that region's Redis
    // clock (the entry's stream id): what is left of the lag is the WAN and the origin's publish.
    const legBuckets = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30];
    this.forwardWait = histogram(
      'rt_bus_forward_wait_seconds',
      "Time from an envelope's outbox append to this node sending it to a peer region, by peer",
      legBuckets,
      peer,
    );
    this.inboundWait = histogram(
      'rt_bus_inbound_wait_seconds',
      "Time from an envelope's arrival in this region's inbound shard to its emit here (read, dedup)",
      legBuckets,
    );
    this.outboxDepth = gauge(
      'rt_bus_outbox_depth',
      'Envelopes in the regional outbox not yet forwarded to a peer region, by peer',
      peer,
      async function collect() {
        // A scrape while the regional Redis is down reports NaN.
        for (const p of peers) this.set({ peer: p }, await outboxDepth(p).catch(() => Number.NaN));
      },
    );
    this.claimed = counter(
      'rt_bus_claimed_total',
      "Entries taken over from other consumers (a dead node's pending entries)",
    );
    this.fallenBehind = counter(
      'rt_bus_fallen_behind_total',
      'Times this region was found to have lost entries to bus trimming, by shard',
      ['shard'],
    );
    this.shardsOwned = gauge('rt_bus_shards_owned', 'Bus shards this node consumes for its region');
    this.forwarderActive = gauge(
      'rt_bus_forwarder_active',
      "1 while this node holds the region's forwarder lease for a peer, by peer",
      peer,
    );
    this.trimmed = counter(
      'rt_bus_trimmed_total',
      "Entries this node removed from its region's inbound shards: acknowledged, or beyond the retention bound",
    );
  }
}
