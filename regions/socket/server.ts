import { randomBytes } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Server } from 'socket.io';
import { formatSessionId } from '../../shared';
import type { RegionConfig } from '../config';
import { keys } from '../keyspace';
import type { RegionMetrics } from '../metrics';
import type { RegionIo } from '../publish';
import type { RegionRedis } from '../redis';
import { HandshakeAdmission } from './admission';
import { preEncodedParser, useLeanWebSocketTransport } from './transport';
import { PublishDecoder } from './publish-decoder';

/** Bytes a publish packet may carry beyond its `data`: event name, room, id, flags, ack id. */
const PACKET_ENVELOPE_BYTES = 4 * 1024;

/**
 * The node's HTTP server and the Socket.IO server on it, with the regional Redis adapter, the
 * handshake admission (edge secret, origins, IP rate) and the packet limits. Nothing listens yet:
 * the front end (`FrontEnd`) adds the handlers and listens.
 */
export function createSocketServer(
  config: RegionConfig,
  redis: RegionRedis,
  metrics: RegionMetrics,
): { io: RegionIo; httpServer: HttpServer } {
  const httpServer = createServer();
  const admission = new HandshakeAdmission({
    edgeSecrets: config.edgeSecrets,
    allowedOrigins: config.allowedOrigins,
    handshakeRatePerIp: config.limits.handshakeRatePerIp,
    trustedProxies: config.trustedProxies,
  });
  const io: RegionIo = new Server(httpServer, {
    adapter: socketAdapter(redis),
    // join and history answers are sent as the stored JSON they were read as (PreEncodedJson), and
    // room deliveries as the envelope JSON encoded once at publish (preEncodedBroadcast); a publish's
    // data is scanned as the text it came in, not built as a value (PublishDecoder).
    parser: { Encoder: preEncodedParser.Encoder, Decoder: PublishDecoder },
    // Called for new Engine.IO sessions only (no `sid`): before any session state exists.
    allowRequest: (req, callback) => {
      const refusal = admission.judge(req);
      if (refusal) metrics.errors.inc({ code: refusal });
      callback(refusal ?? null, refusal === undefined);
    },
    // Credentials are only ever allowed for listed origins; without a list, any origin without them.
    cors:
      config.allowedOrigins.length > 0
        ? { origin: [...config.allowedOrigins], credentials: true }
        : { origin: '*', credentials: false },
    // A packet is refused (the connection closed) above the largest `data` plus room for the event
    // name, the other fields and the framing; before, 1 MB packets were parsed and only then refused.
    maxHttpBufferSize: config.limits.maxPayloadBytes + PACKET_ENVELOPE_BYTES,
    // An Engine.IO session that never completes the Socket.IO connect is closed after this.
    connectTimeout: config.limits.connectTimeoutMs,
  });
  // Session ids name their region and node (shared/session.ts), so the edge and a region's load
  // balancer can send every long-polling request of a session to the node that holds it.
  io.engine.generateId = () =>
    formatSessionId(config.region, config.nodeId, randomBytes(12).toString('base64url'));
  useLeanWebSocketTransport(io.engine);
  return { io, httpServer };
}

/**
 * Cross-node fan-out within the region. On a Redis Cluster: Redis 7 sharded pub/sub, one channel per
 * room (`subscriptionMode: 'dynamic'`), so a room's traffic goes only to the shard that owns its
 * channel and only to nodes with members in it (docs/scaling.md, "Redis Cluster"). On one server:
 * the classic adapter, one channel for the namespace.
 */
function socketAdapter(redis: RegionRedis) {
  return redis.regionalIsCluster
    ? createShardedAdapter(redis.adapterPub, redis.adapterSub, {
        channelPrefix: keys.adapterChannel(),
        subscriptionMode: 'dynamic',
      })
    : createAdapter(redis.adapterPub, redis.adapterSub, { key: keys.adapterChannel() });
}
