import type { Server } from 'socket.io';
import type { ClientEvents, Envelope, ServerEvents } from '../../shared';
import type { RegionMetrics } from '../metrics';

export type RegionIo = Server<ClientEvents, ServerEvents>;

/**
 * Emits envelopes to a room region-wide through the Redis adapter: every member on every node of this
 * region receives it once. Used for envelopes published here and for envelopes arriving from other
 * regions, so there is exactly one path to clients.
 */
export class RoomDelivery {
  private readonly observers: ((envelope: Envelope) => void)[] = [];

  constructor(
    private readonly io: RegionIo,
    private readonly metrics: RegionMetrics,
  ) {}

  /** Calls `observer` after each emit, in this node's delivery order (feeds the recent-history buffer). */
  observe(observer: (envelope: Envelope) => void): void {
    this.observers.push(observer);
  }

  deliver(envelope: Envelope, source: 'local' | 'bus', exceptSocketId?: string): void {
    const target = exceptSocketId
      ? this.io.to(envelope.room).except(exceptSocketId)
      : this.io.to(envelope.room);
    target.emit('message', envelope);
    this.metrics.messagesOut.inc({ source });
    this.metrics.deliveryLatency.observe(
      { origin: envelope.origin },
      Math.max(0, Date.now() - envelope.ts) / 1000,
    );
    for (const observer of this.observers) observer(envelope);
  }
}
