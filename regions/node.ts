import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { ProtocolError, formatSessionId, verifyAccessToken } from '../shared';
import type { RegionConfig } from './config';
import { createHttpApp } from './http/app';
import { TokenBucket, UserLimits, CONNECTION_LEASE_MS } from './limits';
import type { Logger } from './log';
import { RegionMetrics } from './metrics';
import { HealthBeacon } from './health/beacon';
import { RegionalOutbox } from './outbox';
import { NODE_LEASE_MS, PresenceService, RegionalPresence } from './presence';
import { Publisher, PublishIdempotency, RoomDelivery, type RegionIo } from './publish';
import { connectRedis, isReady } from './redis';
import { clientErrorMapper, noHistory, type RegionServices } from './services';
import { registerSocketHandlers, type RegionSocket } from './socket/handlers';

/** A running region node. */
export interface RegionNode {
  readonly config: RegionConfig;
  readonly url: string;
  readonly io: RegionIo;
  readonly services: RegionServices;
  readonly metrics: RegionMetrics;
  /** The regional Redis command client, for components attached after start (bus, history). */
  readonly redis: Redis;
  /** The global Redis command client (bus, health beacon). */
  readonly globalRedis: Redis;
  /** The region's durable queue; every accepted envelope is in it before it is emitted. */
  readonly outbox: RegionalOutbox;
  /** The single path envelopes take to a room region-wide (local publishes and the bus). */
  readonly delivery: RoomDelivery;
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
  const deps = { log, metrics };
  const redis = connectRedis(config.redisUrl, 'regional', deps, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A command written just as the connection drops may otherwise wait for its reply forever.
    commandTimeout: 3_000,
  });
  const adapterPub = connectRedis(config.redisUrl, 'adapter-pub', deps, { enableOfflineQueue: false });
  const adapterSub = connectRedis(config.redisUrl, 'adapter-sub', deps);
  guardAdapterPublishes(adapterPub, deps);
  // The global Redis may be far away or down: nothing waits for it (offline queue off, fail fast).
  const globalRedis = connectRedis(config.globalRedisUrl, 'global', deps, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  await waitReady(redis, adapterPub, adapterSub);
  const outbox = new RegionalOutbox(redis, undefined, (err, action) => {
    metrics.internalErrors.inc({ component: `outbox:${action}` });
    log.warn(
      { err: err.message, action, held: outbox.heldCount },
      'regional outbox unavailable: holding envelopes',
    );
  });
  await outbox.ensureGroups();

  const httpServer = createServer();
  const io: RegionIo = new Server(httpServer, {
    adapter: createAdapter(adapterPub, adapterSub, { key: 'rt:sio' }),
    allowRequest: (req, callback) => callback(edgeSecretOk(req) ? null : 'forbidden', edgeSecretOk(req)),
    cors: { origin: true, credentials: true },
  });

  // Session ids name their region and node (shared/session.ts), so the edge and a region's load
  // balancer can send every long-polling request of a session to the node that holds it.
  io.engine.generateId = () =>
    formatSessionId(config.region, config.nodeId, randomBytes(12).toString('base64url'));

  const userLimits = new UserLimits(redis, config.nodeId, config.limits, deps);
  const idempotency = new PublishIdempotency(outbox, config.idempotencyWindowS, deps);
  const delivery = new RoomDelivery(io, metrics);
  const publisher = new Publisher({
    region: config.region,
    maxPayloadBytes: config.limits.maxPayloadBytes,
    userLimits,
    idempotency,
    delivery,
    metrics,
    log,
  });
  const presenceStore = new RegionalPresence(redis, config.region, config.nodeId, log);
  const services: RegionServices = {
    publisher,
    presence: new PresenceService(presenceStore, io, config.region, deps),
    recovery: noHistory,
    history: noHistory,
    toClientError: clientErrorMapper(deps),
  };

  let draining = false;
  const readinessChecks = new Map<string, { check: () => Promise<string> | string; critical: boolean }>([
    [
      'redis',
      {
        check: () => (isReady(redis) && isReady(adapterPub) && isReady(adapterSub) ? 'up' : 'down'),
        critical: true,
      },
    ],
  ]);
  const closeHooks: (() => Promise<void> | void)[] = [];

  function edgeSecretOk(req: IncomingMessage): boolean {
    return !config.edgeSecret || req.headers['x-edge-secret'] === config.edgeSecret;
  }

  io.use(async (socket, next) => {
    if (draining || io.engine.clientsCount > config.limits.maxConnectionsPerNode)
      return next(new Error('unavailable'));
    try {
      const principal = await verifyAccessToken(socket.handshake.auth?.token, config.jwtSecret);
      if (!(await userLimits.openConnection(principal.user, socket.id))) {
        metrics.errors.inc({ code: 'rate_limited' });
        return next(new Error('rate_limited'));
      }
      socket.data = {
        principal,
        publishBucket: new TokenBucket(
          config.limits.publishRatePerConnection,
          config.limits.publishRatePerConnection * 2,
        ),
      };
      next();
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : 'unauthorized';
      metrics.errors.inc({ code });
      next(new Error(code));
    }
  });

  io.on('connection', (socket: RegionSocket) => {
    socket.emit('session', { region: config.region, node: config.nodeId });
    registerSocketHandlers(socket, services);
    socket.on('disconnect', () => void userLimits.closeConnection(socket.data.principal.user, socket.id));
  });

  const app = createHttpApp({
    region: config.region,
    nodeId: config.nodeId,
    jwtSecret: config.jwtSecret,
    edgeSecret: config.edgeSecret,
    maxPayloadBytes: config.limits.maxPayloadBytes,
    services,
    async readiness() {
      const checks: Record<string, string> = {};
      let ready = !draining;
      for (const [name, { check, critical }] of readinessChecks) {
        checks[name] = await check();
        if (critical && checks[name] !== 'up') ready = false;
      }
      if (draining) checks.node = 'draining';
      return { ready, checks };
    },
    async metrics() {
      metrics.connections.set(io.engine.clientsCount);
      metrics.outboxHeld.set(outbox.heldCount);
      const adapter = io.of('/').adapter;
      metrics.rooms.set([...adapter.rooms.keys()].filter((room) => !adapter.sids.has(room)).length);
      return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
    },
  });
  // Socket.IO answers its own path; every other request goes to the Hono app.
  httpServer.on('request', (req, res) => {
    if (!req.url?.startsWith('/socket.io/')) void getRequestListener(app.fetch)(req, res);
  });

  await listen(httpServer, config.port, config.host);
  const port = (httpServer.address() as AddressInfo).port;

  // Leases: this node's liveness (presence) and its connections (per-user limit).
  const beat = async () => {
    try {
      await outbox.flush();
      await presenceStore.heartbeat();
      await userLimits.renew(
        [...io.of('/').sockets.values()].map((s) => ({
          user: (s as RegionSocket).data.principal.user,
          socketId: s.id,
        })),
      );
      await services.presence.reap();
    } catch (err) {
      metrics.internalErrors.inc({ component: 'heartbeat' });
      log.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
  };
  await beat();
  const heartbeat = setInterval(beat, Math.min(NODE_LEASE_MS, CONNECTION_LEASE_MS) / 3);
  const beacon = new HealthBeacon(
    globalRedis,
    () => ({
      region: config.region,
      node: config.nodeId,
      url: config.publicUrl ?? `http://127.0.0.1:${port}`,
      connections: io.engine.clientsCount,
      capacity: config.limits.maxConnectionsPerNode,
      draining,
    }),
    (err) => {
      metrics.internalErrors.inc({ component: 'health-beacon' });
      log.debug({ err: err.message }, 'health beacon not published: global Redis unavailable');
    },
  );
  beacon.start();
  log.info({ port, region: config.region }, 'region node listening');

  let drained: Promise<void> | undefined;
  return {
    config,
    url: `http://127.0.0.1:${port}`,
    io,
    services,
    metrics,
    redis,
    globalRedis,
    outbox,
    delivery,
    get draining() {
      return draining;
    },
    addReadinessCheck: (name, check, critical = false) => void readinessChecks.set(name, { check, critical }),
    onClose: (fn) => void closeHooks.push(fn),
    drain(reason = 'shutdown') {
      drained ??= (async () => {
        draining = true;
        log.info({ reason, clients: io.engine.clientsCount }, 'draining');
        await beacon.beat();
        httpServer.close();
        io.local.emit('drain', { reason });
        const deadline = Date.now() + config.drainTimeoutMs;
        while (io.engine.clientsCount > 0 && Date.now() < deadline) await sleep(100);
        clearInterval(heartbeat);
        const remaining = io.engine.clientsCount;
        await new Promise<void>((resolve) => io.close(() => resolve()));
        for (const hook of closeHooks) await hook();
        await outbox.flush();
        if (outbox.heldCount > 0)
          log.error({ held: outbox.heldCount }, 'regional Redis down at shutdown: held envelopes lost');
        await beacon.stop({ region: config.region, node: config.nodeId });
        await presenceStore.removeNode().catch(() => undefined);
        httpServer.closeAllConnections();
        await Promise.all(
          [redis, adapterPub, adapterSub, globalRedis].map((c) => c.quit().catch(() => c.disconnect())),
        );
        log.info({ remaining }, 'drained');
      })();
      return drained;
    },
  };
}

/**
 * The adapter publishes without awaiting (socket.io-redis-adapter), so a failed publish would be an
 * unhandled rejection. While the regional Redis is down, cross-node fan-out fails fast (offline queue
 * off), local members are still served, and each failure is counted and logged here.
 */
function guardAdapterPublishes(client: Redis, deps: { log: Logger; metrics: RegionMetrics }): void {
  const publish = client.publish.bind(client) as (
    channel: string,
    message: string | Buffer,
  ) => Promise<number>;
  (client as unknown as { publish: typeof publish }).publish = (channel, message) =>
    publish(channel, message).catch((err: Error) => {
      deps.metrics.internalErrors.inc({ component: 'adapter-publish' });
      deps.log.warn({ err: err.message }, 'cross-node fan-out failed: regional Redis unavailable');
      return 0;
    });
}

async function waitReady(...clients: Redis[]): Promise<void> {
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve) => {
          if (isReady(client)) resolve();
          else client.once('ready', () => resolve());
        }),
    ),
  );
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
