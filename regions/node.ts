import { randomBytes } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Server } from 'socket.io';
import { createTokenVerifier, formatSessionId } from '../shared';
import type { RegionConfig } from './config';
import { FanoutResync, roomOfChannel } from './fanout/resync';
import { createHttpApp, type HttpAppOptions } from './http/app';
import { serveOperatorEndpoints } from './http/operator-server';
import { Readiness } from './http/readiness';
import { keys } from './keyspace';
import { UserLimits } from './limits';
import type { Logger } from './log';
import { RegionMetrics } from './metrics';
import { HealthBeacon } from './health/beacon';
import { outboxGroups } from './bus/keys';
import { RegionalOutbox } from './outbox';
import { PresenceService, RegionalPresence } from './presence';
import { Publisher, RedisPublishLog, RoomDelivery, type RegionIo } from './publish';
import { connectRedis, connectRegionRedis, type RedisClient, type RegionRedis } from './redis';
import { UserControl } from './server-api/user-control';
import { clientErrorMapper, noHistory, type RegionServices } from './services';
import { HandshakeAdmission } from './socket/admission';
import { SessionExpiry } from './socket/expiry';
import { socketHandlers, type RegionSocket } from './socket/handlers';
import { admitHandshake } from './socket/handshake';
import { NodeUpkeep } from './upkeep';
import { setTimeout as sleep } from 'node:timers/promises';

/** Bytes a publish packet may carry beyond its `data`: event name, room, id, flags, ack id. */
const PACKET_ENVELOPE_BYTES = 4 * 1024;

/** A running region node. */
export interface RegionNode {
  readonly config: RegionConfig;
  readonly url: string;
  readonly io: RegionIo;
  readonly services: RegionServices;
  readonly metrics: RegionMetrics;
  /** The regional Redis command client, for components attached after start (bus, history). */
  readonly redis: RedisClient;
  /** The global Redis command client (bus, health beacon). */
  readonly globalRedis: RedisClient;
  /** The region's durable queue; every accepted envelope is in it before it is emitted. */
  readonly outbox: RegionalOutbox;
  /** The single path envelopes take to a room region-wide (local publishes and the bus). */
  readonly delivery: RoomDelivery;
  /** Tells members to rejoin rooms whose cross-node fan-out may have lost envelopes. */
  readonly resync: FanoutResync;
  /** True once `drain` was called. */
  readonly draining: boolean;
  /**
   * Adds a dependency to `/readyz` (name -> 'up' or another state). Only `critical` checks make the
   * node not ready; the rest are reported, because live delivery goes on without them (a history or
   * global-bus outage must not pull every node out of the load balancer).
   */
  addReadinessCheck(name: string, check: () => Promise<string> | string, critical?: boolean): void;
  /** Runs on shutdown, after clients are gone and before Redis is closed. */
  onClose(fn: () => Promise<void> | void): void;
  /** Stops accepting, tells clients to reconnect elsewhere, waits up to the drain timeout, closes. */
  drain(reason?: string): Promise<void>;
}

/** Starts one region node: HTTP API, Socket.IO with the regional Redis adapter, presence, limits. */
export async function startRegionNode(config: RegionConfig, log: Logger): Promise<RegionNode> {
  const metrics = new RegionMetrics({ region: config.region, node: config.nodeId });
  metrics.connectionsMax.set(config.limits.maxConnectionsPerNode);
  const deps = { log, metrics };
  const redis = await connectRegionRedis({ regional: config.redisUrl, global: config.globalRedisUrl }, deps);
  // The groups this configuration runs: the outbox is trimmed below them alone.
  const outbox = new RegionalOutbox(redis.command, outboxGroups(config));
  await outbox.ensureGroups();
  const publishLog = new RedisPublishLog(
    redis.command,
    {
      publishRatePerUser: config.limits.publishRatePerUser,
      ephemeralRatePerUser: config.limits.ephemeralRatePerUser,
      idempotencyWindowMs: config.idempotencyWindowS * 1000,
      idFutureMs: config.idFutureS * 1000,
    },
    { log, metrics, holdMaxBytes: config.outbox.holdMaxBytes },
  );

  const httpServer = createServer();
  const admission = new HandshakeAdmission({
    edgeSecrets: config.edgeSecrets,
    allowedOrigins: config.allowedOrigins,
    handshakeRatePerIp: config.limits.handshakeRatePerIp,
    trustedProxies: config.trustedProxies,
  });
  const io: RegionIo = new Server(httpServer, {
    adapter: socketAdapter(redis),
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

  const userLimits = new UserLimits(redis.command, config.nodeId, config.limits, deps);
  const delivery = new RoomDelivery(io, metrics);
  const resync = new FanoutResync({ io, log, metrics });
  redis.onSubscriptionsRestored((lostAt) => resync.subscriptionsRestored(lostAt));
  redis.onFanoutFailure((channel) => {
    const room = roomOfChannel(keys.adapterChannel(), channel);
    if (room !== undefined) resync.roomAtRisk(room);
  });
  const presenceStore = new RegionalPresence(
    redis.command,
    config.region,
    config.nodeId,
    config.presence,
    log,
  );
  const controlSubscriber = connectRedis(config.globalRedisUrl, 'user-control', deps);
  const users = new UserControl({
    io,
    globalRedis: redis.global,
    subscriber: controlSubscriber,
    revocationTtlMs: config.revocationTtlMs,
    log,
    metrics,
  });
  const services: RegionServices = {
    publisher: new Publisher({
      region: config.region,
      maxPayloadBytes: config.limits.maxPayloadBytes,
      log: publishLog,
      delivery,
      metrics,
      logger: log,
    }),
    presence: new PresenceService(presenceStore, io, config.region, config.presence.membersCap, deps),
    recovery: noHistory,
    history: noHistory,
    users,
    toClientError: clientErrorMapper(deps),
  };

  let draining = false;
  const readiness = new Readiness();
  readiness.add('redis', () => (redis.regionalReady() ? 'up' : 'down'), true);
  const verifyToken = createTokenVerifier(config.tokens);
  // Only sockets that completed the authenticated connect count as load (capacity, health beacon).
  const connectedSockets = () => io.of('/').sockets.size;
  io.use(
    admitHandshake({
      config,
      verifyToken,
      userLimits,
      metrics,
      revocations: users,
      unavailable: () => draining || connectedSockets() >= config.limits.maxConnectionsPerNode,
    }),
  );
  const expiry = new SessionExpiry((socket, exp) => {
    socket.emit('expired', { exp });
    socket.disconnect(true);
  });
  expiry.start();
  const attachHandlers = socketHandlers({
    services,
    limits: { ...config.limits, recoveryLimit: config.history.recoveryLimit },
    verifyToken,
    expiry,
  });
  const closeUserConnection = function (this: RegionSocket) {
    void userLimits.closeConnection(this.data.principal.user, this.id);
  };
  // Memory per idle connection (https://socket.io/docs/v4/memory-usage/): once the Socket.IO connect
  // is admitted (the middleware has read what it needs from the handshake), the Engine.IO session
  // drops its reference to the first HTTP request. Engine.IO also keeps a WebSocket upgrade's
  // response object, which holds that request, alive for the whole session (a `close` listener on the
  // TCP socket), so the request is let go of there too.
  const upgradeResponses = new WeakMap<object, { req?: unknown }>();
  io.engine.use((req: object, res: { req?: unknown }, next: () => void) => {
    upgradeResponses.set(req, res);
    next();
  });
  io.on('connection', (socket: RegionSocket) => {
    const conn = socket.conn as unknown as { request: object | null };
    const upgrade = conn.request && upgradeResponses.get(conn.request);
    if (upgrade && !('statusCode' in upgrade)) upgrade.req = null;
    conn.request = null;
    socket.emit('session', { region: config.region, node: config.nodeId });
    attachHandlers(socket);
    socket.on('disconnect', closeUserConnection);
  });

  const httpOptions: HttpAppOptions = {
    region: config.region,
    nodeId: config.nodeId,
    verifyToken,
    edgeSecrets: config.edgeSecrets,
    serverApiKeys: config.serverApiKeys,
    maxPayloadBytes: config.limits.maxPayloadBytes,
    services,
    readiness: () => readiness.report(draining),
    async metrics() {
      metrics.connections.set(connectedSockets());
      metrics.outboxHeld.set(publishLog.heldCount);
      metrics.outboxHeldBytes.set(publishLog.heldBytes);
      const adapter = io.of('/').adapter;
      metrics.rooms.set([...adapter.rooms.keys()].filter((room) => !adapter.sids.has(room)).length);
      return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
    },
    metricsElsewhere: config.metricsPort !== undefined,
  };
  const app = createHttpApp(httpOptions);
  const operator =
    config.metricsPort === undefined
      ? undefined
      : await serveOperatorEndpoints(httpOptions, config.metricsPort, config.host);
  // Socket.IO answers its own path; every other request goes to the Hono app.
  const handleHttp = getRequestListener(app.fetch);
  httpServer.on('request', (req, res) => {
    if (!req.url?.startsWith('/socket.io/')) void handleHttp(req, res);
  });

  await listen(httpServer, config.port, config.host);
  const port = (httpServer.address() as AddressInfo).port;
  const upkeep = new NodeUpkeep({
    io,
    outbox,
    publishLog,
    outboxTrimIntervalMs: config.outbox.trimIntervalMs,
    presenceStore,
    presence: services.presence,
    userLimits,
    presenceTiming: config.presence,
    ...deps,
  });
  await upkeep.start();
  await users.start();
  const beacon = new HealthBeacon(
    redis.global,
    () => ({
      region: config.region,
      node: config.nodeId,
      url: config.publicUrl ?? `http://127.0.0.1:${port}`,
      connections: connectedSockets(),
      capacity: config.limits.maxConnectionsPerNode,
      draining,
    }),
    (err) => {
      metrics.internalErrors.inc({ component: 'health-beacon' });
      log.debug({ err: err.message }, 'health beacon not published: global Redis unavailable');
    },
  );
  beacon.start();
  log.info({ port, metricsPort: operator?.port, region: config.region }, 'region node listening');

  const closeHooks: (() => Promise<void> | void)[] = [
    () => expiry.stop(),
    () => resync.stop(),
    () => operator?.close(),
    async () => {
      users.stop();
      await controlSubscriber.quit().catch(() => controlSubscriber.disconnect());
    },
  ];
  let drained: Promise<void> | undefined;
  return {
    config,
    url: `http://127.0.0.1:${port}`,
    io,
    services,
    metrics,
    redis: redis.command,
    globalRedis: redis.global,
    outbox,
    delivery,
    resync,
    get draining() {
      return draining;
    },
    addReadinessCheck: (name, check, critical) => readiness.add(name, check, critical),
    onClose: (fn) => void closeHooks.push(fn),
    drain(reason = 'shutdown') {
      draining = true;
      drained ??= drainNode({
        reason,
        config,
        log,
        io,
        httpServer,
        beacon,
        upkeep,
        closeHooks,
        publishLog,
        presenceStore,
        redis,
      });
      return drained;
    },
  };
}

/**
 * Drains a node: the edge stops routing here (draining health), no new connections, `drain` to every
 * client (they reconnect through the edge), up to DRAIN_TIMEOUT_MS for them to leave, then the rest
 * is closed, attached components stop, held envelopes get a last chance, and leases are released.
 */
async function drainNode(parts: {
  reason: string;
  config: RegionConfig;
  log: Logger;
  io: RegionIo;
  httpServer: HttpServer;
  beacon: HealthBeacon;
  upkeep: NodeUpkeep;
  closeHooks: (() => Promise<void> | void)[];
  publishLog: RedisPublishLog;
  presenceStore: RegionalPresence;
  redis: RegionRedis;
}): Promise<void> {
  const { io, log, publishLog, config } = parts;
  log.info({ reason: parts.reason, clients: io.engine.clientsCount }, 'draining');
  await parts.beacon.beat();
  io.local.emit('drain', { reason: parts.reason });
  // Keep listening while clients leave: long-polling sessions need new requests to receive `drain`
  // and say goodbye, `/readyz` answers 503 to the load balancer, and a new handshake is refused
  // with the contract's `unavailable` rather than a refused TCP connection.
  const deadline = Date.now() + config.drainTimeoutMs;
  while (io.engine.clientsCount > 0 && Date.now() < deadline) await sleep(100);
  parts.httpServer.close();
  parts.upkeep.stop();
  const remaining = io.engine.clientsCount;
  await new Promise<void>((resolve) => io.close(() => resolve()));
  for (const hook of parts.closeHooks) await hook();
  await publishLog.flush();
  if (publishLog.heldCount > 0) {
    log.error({ held: publishLog.heldCount }, 'regional Redis down at shutdown: held envelopes lost');
  }
  await parts.beacon.stop({ region: config.region, node: config.nodeId });
  await parts.presenceStore.removeNode().catch(() => undefined);
  parts.httpServer.closeAllConnections();
  await parts.redis.close();
  log.info({ remaining }, 'drained');
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

function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
