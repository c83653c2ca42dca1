import {
  ProtocolError,
  encodedSize,
  newEnvelopeId,
  roomAllowed,
  type Envelope,
  type EnvelopeId,
  type JsonValue,
  type Principal,
} from '../../shared';
import type { UserLimits } from '../limits';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RoomDelivery } from './delivery';
import type { PublishIdempotency } from './idempotency';

export interface PublishRequest {
  principal: Principal;
  room: string;
  data: JsonValue;
  id?: EnvelopeId | undefined;
  transport: 'socket' | 'http' | 'server';
  /** A server API call (with a key): no room grant and no per-user rate apply. */
  server?: boolean | undefined;
  /** Delivered live but never stored (pipeline semantics; carried through from every front end). */
  ephemeral?: boolean | undefined;
  /** The publishing connection, which does not receive its own envelope. */
  exceptSocketId?: string | undefined;
}

export interface PublishAck {
  id: EnvelopeId;
  ts: number;
}

/**
 * The publish path shared by the socket event and the HTTP API: authorize, check size and per-user
 * rate, claim the id and append to the regional outbox in one step (a retry gets the first ack and no
 * second delivery), emit region-wide, ack.
 */
export class Publisher {
  constructor(
    private readonly deps: {
      region: string;
      maxPayloadBytes: number;
      userLimits: UserLimits;
      idempotency: PublishIdempotency;
      delivery: RoomDelivery;
      metrics: RegionMetrics;
      log: Logger;
    },
  ) {}

  async publish(req: PublishRequest): Promise<PublishAck> {
    const { principal, room } = req;
    if (!req.server && !roomAllowed(principal.rooms, room)) {
      throw new ProtocolError('forbidden', `not allowed to publish to ${room}`);
    }
    const size = encodedSize(req.data);
    if (size > this.deps.maxPayloadBytes) {
      throw new ProtocolError(
        'too_large',
        `data is ${size} bytes; the limit is ${this.deps.maxPayloadBytes}`,
      );
    }
    if (!req.server && !(await this.deps.userLimits.allowPublish(principal.user))) {
      throw new ProtocolError('rate_limited', 'too many publishes for this user; slow down');
    }
    const envelope: Envelope = {
      id: req.id ?? newEnvelopeId(),
      room,
      data: req.data,
      user: principal.user,
      origin: this.deps.region,
      ts: Date.now(),
    };
    const record = { id: envelope.id, ts: envelope.ts, room, user: principal.user };
    let accepted;
    try {
      accepted = await this.deps.idempotency.accept(record, envelope);
    } catch (err) {
      this.deps.metrics.internalErrors.inc({ component: 'publish-queue' });
      this.deps.log.error({ err: (err as Error).message, id: envelope.id }, 'could not queue envelope');
      throw new ProtocolError('unavailable', 'could not queue the message; retry with the same id');
    }
    if (!accepted.fresh) {
      const { record: first } = accepted;
      if (first.room !== room || first.user !== principal.user) {
        throw new ProtocolError('invalid', 'this id was already used for another message');
      }
      return { id: envelope.id, ts: first.ts };
    }
    this.deps.delivery.deliver(envelope, 'local', req.exceptSocketId);
    this.deps.metrics.messagesIn.inc({ transport: req.transport });
    return { id: envelope.id, ts: envelope.ts };
  }
}
