import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The node's Prometheus metrics, one registry per node (so tests can run several in one process). */
export class RegionMetrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: 'rt_connections',
    help: 'Socket.IO connections open on this node',
    registers: [this.registry],
  });
  readonly connectionsMax = new Gauge({
    name: 'rt_connections_max',
    help: 'Connections this node accepts (MAX_CONNECTIONS_PER_NODE); more are refused unavailable',
    registers: [this.registry],
  });
  readonly rooms = new Gauge({
    name: 'rt_rooms',
    help: 'Rooms with at least one member on this node',
    registers: [this.registry],
  });
  readonly messagesIn = new Counter({
    name: 'rt_messages_in_total',
    help: 'Envelopes accepted from publishers on this node',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly messagesOut = new Counter({
    name: 'rt_messages_out_total',
    help: 'Envelopes emitted to rooms by this node, by source (local publish or bus)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'rt_errors_total',
    help: 'Errors answered to clients, by contract code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly redisUp = new Gauge({
    name: 'rt_redis_up',
    help: '1 when the named Redis connection is ready',
    labelNames: ['client'] as const,
    registers: [this.registry],
  });
  readonly outboxHeld = new Gauge({
    name: 'rt_outbox_held',
    help: 'Envelopes held in memory while the regional Redis is unreachable',
    registers: [this.registry],
  });
  readonly outboxHeldBytes = new Gauge({
    name: 'rt_outbox_held_bytes',
    help: 'Bytes of envelopes held in memory while the regional Redis is unreachable (bounded by OUTBOX_HOLD_BYTES)',
    registers: [this.registry],
  });
  readonly resyncs = new Counter({
    name: 'rt_resyncs_total',
    help: 'Rooms told to resync (rejoin with since) after cross-node fan-out may have lost envelopes, by cause',
    labelNames: ['cause'] as const,
    registers: [this.registry],
  });
  readonly internalErrors = new Counter({
    name: 'rt_internal_errors_total',
    help: 'Internal errors (logged with context), by component',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });

  /**
   * Publish to delivery: from the envelope's `ts` (set by the accepting node) to this node's emit, by
   * the region that accepted it (this region for local publishes). Across regions it includes any
   * clock difference between the two regions' hosts.
   */
  readonly deliveryLatency = new Histogram({
    name: 'rt_delivery_latency_seconds',
    help: "Time from an envelope's acceptance (its ts) to its emit to the room here, by origin region",
    labelNames: ['origin'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor(labels: { region: string; node: string }) {
    this.registry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: this.registry });
  }
}
