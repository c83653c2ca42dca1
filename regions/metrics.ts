import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CollectFunction,
} from 'prom-client';

/**
 * Declares metrics on one registry: each takes its name, help and label names, nothing else
 * repeated. Every metrics class of the node (`RegionMetrics`, `BusMetrics`, `HistoryMetrics`) uses it.
 */
export function metricsOn(registry: Registry) {
  const registers = [registry];
  return {
    counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
      return new Counter<L>({ name, help, labelNames, registers });
    },
    gauge<L extends string = never>(
      name: string,
      help: string,
      labelNames: readonly L[] = [],
      collect?: CollectFunction<Gauge<L>>,
    ) {
      return new Gauge<L>({ name, help, labelNames, registers, ...(collect ? { collect } : {}) });
    },
    histogram<L extends string = never>(
      name: string,
      help: string,
      buckets: number[],
      labelNames: readonly L[] = [],
    ) {
      return new Histogram<L>({ name, help, buckets, labelNames, registers });
    },
  };
}

/** The node's Prometheus metrics, one registry per node (so tests can run several in one process). */
export class RegionMetrics {
  readonly registry = new Registry();
  readonly connections;
  readonly connectionsMax;
  readonly rooms;
  readonly messagesIn;
  readonly messagesOut;
  readonly errors;
  readonly redisUp;
  readonly outboxHeld;
  readonly outboxHeldBytes;
  readonly resyncs;
  readonly internalErrors;
  /**
   * Publish to delivery: from the envelope's `ts` (set by the accepting node) to this node's emit, by
   * the region that accepted it (this region for local publishes). Across regions it includes any
   * clock difference between the two regions' hosts.
   */
  readonly deliveryLatency;

  constructor(labels: { region: string; node: string }) {
    this.registry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: this.registry });
    const { counter, gauge, histogram } = metricsOn(this.registry);
    this.connections = gauge('rt_connections', 'Socket.IO connections open on this node');
    this.connectionsMax = gauge(
      'rt_connections_max',
      'Connections this node accepts (MAX_CONNECTIONS_PER_NODE); more are refused unavailable',
    );
    this.rooms = gauge('rt_rooms', 'Rooms with at least one member on this node');
    this.messagesIn = counter('rt_messages_in_total', 'Envelopes accepted from publishers on this node', [
      'transport',
    ]);
    this.messagesOut = counter(
      'rt_messages_out_total',
      'Envelopes emitted to rooms by this node, by source (local publish or bus)',
      ['source'],
    );
    this.errors = counter('rt_errors_total', 'Errors answered to clients, by contract code', ['code']);
    this.redisUp = gauge('rt_redis_up', '1 when the named Redis connection is ready', ['client']);
    this.outboxHeld = gauge(
      'rt_outbox_held',
      'Envelopes held in memory while the regional Redis is unreachable',
    );
    this.outboxHeldBytes = gauge(
      'rt_outbox_held_bytes',
      'Bytes of envelopes held in memory while the regional Redis is unreachable (bounded by OUTBOX_HOLD_BYTES)',
    );
    this.resyncs = counter(
      'rt_resyncs_total',
      'Rooms told to resync (rejoin with since) after cross-node fan-out may have lost envelopes, by cause',
      ['cause'],
    );
    this.internalErrors = counter(
      'rt_internal_errors_total',
      'Internal errors (logged with context), by component',
      ['component'],
    );
    this.deliveryLatency = histogram(
      'rt_delivery_latency_seconds',
      "Time from an envelope's acceptance (its ts) to its emit to the room here, by origin region",
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      ['origin'],
    );
  }
}
