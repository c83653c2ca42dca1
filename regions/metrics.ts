import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The node's Prometheus metrics, one registry per node (so tests can run several in one process). */
export class RegionMetrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: 'rt_connections',
    help: 'Socket.IO connections open on this node',
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
  readonly internalErrors = new Counter({
    name: 'rt_internal_errors_total',
    help: 'Internal errors (logged with context), by component',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });

  constructor(labels: { region: string; node: string }) {
    this.registry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: this.registry });
  }
}
