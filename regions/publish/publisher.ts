import {
  ProtocolError,
  envelopeWithLazyData,
  newEnvelopeId,
  roomAllowed,
  type Envelope,
  type EnvelopeId,
  type JsonValue,
  type Principal,
} from '../../shared';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RoomDelivery } from './delivery';
import type { PublishAck, PublishLog } from './log';

interface PublishFields {
  principal: Principal;
  room: string;
  id?: EnvelopeId | undefined;
  transport: 'socket' | 'http' | 'server';
  /** A server API call (with a key): no room grant and no per-user rate apply. */
  server?: boolean | undefined;
  /** Delivered live but never stored (pipeline semantics; carried through from every front end). */
  ephemeral?: boolean | undefined;
  /** The publishing connection, which does not receive its own envelope. */
  exceptSocketId?: string | undefined;
}

/**
 * A publish: its `data` as a value, as JSON text (`dataJson`: what JSON.stringify writes for the
 * value, used as it is), or both when the front end already encoded the value to measure it.
 */
export type PublishRequest = PublishFields &
  ({ data: JsonValue; dataJson?: string | undefined } | { data?: undefined; dataJson: string });

/**
 * The publish path shared by the socket event and the HTTP API: authorize and check the size here,
 * then one call to the publish log (per-user rate, id claim and outbox append in one step; a retry
 * gets the first ack and no second delivery), emit region-wide, ack.
 */
export class Publisher {
  constructor(
    private readonly deps: {
      region: string;
      maxPayloadBytes: number;
      log: PublishLog;
      delivery: Pick<RoomDelivery, 'deliver'>;
      metrics: RegionMetrics;
      logger: Logger;
    },
  ) {}

  async publish(req: PublishRequest): Promise<PublishAck> {
    const { principal, room } = req;
    if (!req.server && !roomAllowed(principal.rooms, room)) {
      throw new ProtocolError('forbidden', `not allowed to publish to ${room}`);
    }
    // The data is encoded once (here, or by the front end that measured it), and spliced into the
    // envelope's JSON by the publish log.
    const dataJson = req.dataJson ?? JSON.stringify(req.data);
    const size = Buffer.byteLength(dataJson, 'utf8');
    if (size > this.deps.maxPayloadBytes) {
      throw new ProtocolError(
        'too_large',
        `data is ${size} bytes; the limit is ${this.deps.maxPayloadBytes}`,
      );
    }
    const id = req.id ?? newEnvelopeId();
    const [user, origin, ts] = [principal.user, this.deps.region, Date.now()];
    const envelope: Envelope =
      req.data !== undefined
        ? { id, room, data: req.data, user, origin, ts }
        : // Decoded only if something reads it: the publish path passes the text on (publish log,
          // delivery) and never does, so a publish that came in as text (a socket publish,
          // regions/socket/publish-decoder.ts) is never built as a value.
          envelopeWithLazyData({ id, room, user, origin, ts }, () => JSON.parse(dataJson) as JsonValue);
    if (req.ephemeral) envelope.ephemeral = true;
    let accepted;
    try {
      // The server API (with a key) is not held to a user's rate.
      accepted = await this.deps.log.accept(envelope, { rateLimited: !req.server, dataJson });
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      this.deps.metrics.internalErrors.inc({ component: 'publish-log' });
      this.deps.logger.error({ err: (err as Error).message, id: envelope.id }, 'could not store envelope');
      throw new ProtocolError('unavailable', 'could not store the message; retry with the same id');
    }
    if (!accepted.fresh) return accepted.firstAck;
    this.deps.delivery.deliver(accepted.encoded, 'local', req.exceptSocketId);
    this.deps.metrics.messagesIn.inc({ transport: req.transport });
    return { id: envelope.id, ts: envelope.ts };
  }
}
