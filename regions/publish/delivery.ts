import type { Server } from 'socket.io';
import {
  encodeEnvelope,
  type ClientEvents,
  type EncodedEnvelope,
  type Envelope,
  type ServerEvents,
} from '../../shared';
import type { RegionMetrics } from '../metrics';
import { preEncodedBroadcast } from '../socket/transport';

export type RegionIo = Server<ClientEvents, ServerEvents>;

/**
 * Called with each batch of deliveries (those handed in together, see `RoomDelivery`), in delivery
 * order, just before their emits (the envelope and its JSON, encoded once, shared by every observer).
 */
export type DeliveryObserver = (delivered: readonly EncodedEnvelope[]) => void;

interface PendingDelivery {
  encoded: EncodedEnvelope;
  source: 'local' | 'bus';
  exceptSocketId: string | undefined;
}

/**
 * Emits envelopes to a room region-wide through the Redis adapter: every member on every node of this
 * region receives it once. Used for envelopes published here and for envelopes arriving from other
 * regions, so there is exactly one path to clients.
 *
 * Deliveries are emitted in batches, in the order they were handed in: a delivery queues, and a
 * microtask emits everything queued by then. So the publishes whose Redis replies came in one read
 * (their promises settle together) and the fresh envelopes of one bus batch go out together, and
 * before anything that awaits the handing-in code (the bus acknowledges its batch after the emit).
 * The observers see the batch once (the recent-history buffer appends it with one script call
 * instead of one per envelope); the wait is never another turn of the event loop.
 */
export class RoomDelivery {
  private readonly observers: DeliveryObserver[] = [];
  private pending: PendingDelivery[] = [];

  constructor(
    private readonly io: RegionIo,
    private readonly metrics: RegionMetrics,
  ) {}

  /**
   * Calls `observer` with each batch of deliveries, in this node's delivery order, just before their
   * emits (feeds the recent-history buffer). An observer that writes to Redis writes before the
   * emits' own publishes to the other nodes, so a join on any node that no longer gets an envelope
   * live (it joined the room after the emit reached its node) reads it from the buffer.
   */
  observe(observer: DeliveryObserver): void {
    this.observers.push(observer);
  }

  /**
   * Emits `delivered` (an envelope, or one already encoded by the publish log) to its room, in a
   * microtask, after what was handed in before it.
   */
  deliver(delivered: Envelope | EncodedEnvelope, source: 'local' | 'bus', exceptSocketId?: string): void {
    const encoded = 'json' in delivered ? delivered : encodeEnvelope(delivered);
    if (this.pending.length === 0) queueMicrotask(() => this.flush());
    this.pending.push({ encoded, source, exceptSocketId });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const encoded = batch.map((d) => d.encoded);
    for (const observer of this.observers) observer(encoded);
    const now = Date.now();
    for (const { encoded, source, exceptSocketId } of batch) {
      const { envelope } = encoded;
      const target = exceptSocketId
        ? this.io.to(envelope.room).except(exceptSocketId)
        : this.io.to(envelope.room);
      // The JSON made once (by the publish log, or read from the bus entry) is what every member gets
      // and what the other nodes of the region receive: the packet encoder puts it in as it is.
      target.emit('message', preEncodedBroadcast(encoded.json) as unknown as Envelope);
      this.metrics.messagesOut.inc({ source });
      this.metrics.deliveryLatency.observe(
        { origin: envelope.origin },
        Math.max(0, now - envelope.ts) / 1000,
      );
    }
  }
}
