import type { Server } from 'socket.io';
import {
  encodeEnvelope,
  type ClientEvents,
  type EncodedEnvelope,
  type Envelope,
  type ServerEvents,
} from '../../shared';
import type { RegionMetrics } from '../metrics';
import { preEncodedBroadcast } from '../socket/pre-encoded';

export type RegionIo = Server<ClientEvents, ServerEvents>;

/** Called after each emit with the envelope and its JSON (encoded once, shared by every observer). */
export type DeliveryObserver = (delivered: EncodedEnvelope) => void;

/**
 * Emits envelopes to a room region-wide through the Redis adapter: every member on every node of this
 * region receives it once. Used for envelopes published here and for envelopes arriving from other
 * regions, so there is exactly one path to clients.
 */
export class RoomDelivery {
  private readonly observers: DeliveryObserver[] = [];

  constructor(
    private readonly io: RegionIo,
    private readonly metrics: RegionMetrics,
  ) {}

  /**
   * Calls `observer` for each delivery, in this node's delivery order, just before the emit (feeds
   * the recent-history buffer). An observer that writes to Redis writes before the emit's own
   * publish to the other nodes, so a join on any node that no longer gets the envelope live (it
   * joined the room after the emit reached its node) reads it from the buffer.
   */
  observe(observer: DeliveryObserver): void {
    this.observers.push(observer);
  }

  /** Emits `delivered` (an envelope, or one already encoded by the publish log) to its room. */
  deliver(delivered: Envelope | EncodedEnvelope, source: 'local' | 'bus', exceptSocketId?: string): void {
    const encoded = 'json' in delivered ? delivered : encodeEnvelope(delivered);
    const { envelope } = encoded;
    for (const observer of this.observers) observer(encoded);
    const target = exceptSocketId
      ? this.io.to(envelope.room).except(exceptSocketId)
      : this.io.to(envelope.room);
    // The JSON made once (by the publish log, or read from the bus entry) is what every member gets
    // and what the other nodes of the region receive: the packet encoder puts it in as it is.
    target.emit('message', preEncodedBroadcast(encoded.json) as unknown as Envelope);
    this.metrics.messagesOut.inc({ source });
    this.metrics.deliveryLatency.observe(
      { origin: envelope.origin },
      Math.max(0, Date.now() - envelope.ts) / 1000,
    );
  }
}
