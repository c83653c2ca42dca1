import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The bus's Prometheus metrics, registered on the node's registry. */
export class BusMetrics {
  readonly published: Counter<'peer'>;
  readonly publishFailures: Counter<'peer'>;
  readonly consumed: Counter<'result'>;
  readonly duplicatesDropped: Counter;
  readonly lag: Histogram;
  readonly outboxDepth: Gauge<'peer'>;
  readonly claimed: Counter;
  readonly fallenBehind: Counter<'shard'>;
  readonly shardsOwned: Gauge;
  readonly forwarderActive: Gauge<'peer'>;
  readonly trimmed: Counter;

  /** `outboxDepth(peer)`: the outbox entries not yet forwarded to `peer`. */
  constructor(registry: Registry, peers: readonly string[], outboxDepth: (peer: string) => Promise<number>) {
    const registers = [registry];
    this.published = new Counter({
      name: 'rt_bus_published_total',
      help: "Envelopes this node appended to a peer region's inbound shards (forwarder), by peer",
      labelNames: ['peer'] as const,
      registers,
    });
    this.publishFailures = new Counter({
      name: 'rt_bus_publish_failures_total',
      help: "Forwarder batches that could not be appended to a peer's inbound shards (retried from the outbox)",
      labelNames: ['peer'] as const,
      registers,
    });
    this.consumed = new Counter({
      name: 'rt_bus_consumed_total',
      help: 'Bus entries this node handled, by result: delivered, own (origin here), duplicate, invalid',
      labelNames: ['result'] as const,
      registers,
    });
    this.duplicatesDropped = new Counter({
      name: 'rt_bus_duplicates_dropped_total',
      help: 'Bus entries dropped because their envelope id was already delivered in this region',
      registers,
    });
    this.lag = new Histogram({
      name: 'rt_bus_lag_seconds',
      help: 'Cross-region lag: time from acceptance in the origin region to emit here (see rt_delivery_latency_seconds)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.outboxDepth = new Gauge({
      name: 'rt_bus_outbox_depth',
      help: 'Envelopes in the regional outbox not yet forwarded to a peer region, by peer',
      labelNames: ['peer'] as const,
      registers,
      async collect() {
        // A scrape while the regional Redis is down reports NaN.
        for (const peer of peers) this.set({ peer }, await outboxDepth(peer).catch(() => Number.NaN));
      },
    });
    this.claimed = new Counter({
      name: 'rt_bus_claimed_total',
      help: "Entries taken over from other consumers (a dead node's pending entries)",
      registers,
    });
    this.fallenBehind = new Counter({
      name: 'rt_bus_fallen_behind_total',
      help: 'Times this region was found to have lost entries to bus trimming, by shard',
      labelNames: ['shard'] as const,
      registers,
    });
    this.shardsOwned = new Gauge({
      name: 'rt_bus_shards_owned',
      help: 'Bus shards this node consumes for its region',
      registers,
    });
    this.forwarderActive = new Gauge({
      name: 'rt_bus_forwarder_active',
      help: "1 while this node holds the region's forwarder lease for a peer, by peer",
      labelNames: ['peer'] as const,
      registers,
    });
    this.trimmed = new Counter({
      name: 'rt_bus_trimmed_total',
      help: "Entries this node removed from its region's inbound shards by the retention bound",
      registers,
    });
  }
}
