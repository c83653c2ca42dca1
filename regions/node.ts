import { createTokenVerifier, type TokenVerifier } from '../shared';
import { createGlobalBus } from './bus';
import type { RegionConfig } from './config';
import { FanoutResync, roomOfChannel } from './fanout/resync';
import { HealthBeacon } from './health/beacon';
import { createHistory } from './history';
import type { HttpAppOptions } from './http/app';
import { OperatorEndpoints } from './http/operator-server';
import { Lifecycle, periodic } from './lifecycle';
import { CONNECTION_LEASE_MS } from './limits';
import type { Logger } from './log';
import { RegionMetrics } from './metrics';
import { assembleCore } from './node-core';
import { keys } from './keyspace';
import type { RedisPublishLog, RegionIo } from './publish';
import { connectRegionRedis, type RegionRedis } from './redis';
import { clientErrorMapper, type RegionServices } from './services';
import { FrontEnd } from './socket/front-end';

/** A running region node. */
export interface RegionNode {
  readonly url: string;
  /**
   * Drains the node (the beacon says "draining", clients are told to reconnect elsewhere and get up
   * to DRAIN_TIMEOUT_MS to leave), then stops every component in reverse start order. Later calls
   * wait for the first.
   */
  drain(reason?: string): Promise<void>;
}

type Deps = { log: Logger; metrics: RegionMetrics };

/**
 * The composition root: assembles one region node from its components and starts them in the order
 * of the list below (each uses only what started before it); a drain takes them down in reverse.
 * The order, with what each one's stop does:
 *
 *  1. `redis`: the regional and global connections (closed last)
 *  2. `outbox`: creates its consumer groups; `outbox-trim` trims below what all of them acknowledged
 *  3. `publish-log`: appends envelopes held during a regional Redis outage (a last try at stop)
 *  4. `liveness`: this node in the region's node registry; cleanup after dead nodes (leaves it)
 *  5. `presence`: leave-grace sweeps (releases this node's members, with the grace)
 *  6. `user-control`: server API disconnects and revocations from every region
 *  7. `history`: outbox -> Postgres writer, partition maintenance (finishes the batch in hand)
 *  8. `global-bus` (GLOBAL_BUS on): forwarders to peers, shard consumers, presence across regions
 *  9. `connection-leases`: per-user connection leases renewed
 * 10. `front-end`: listens: Socket.IO and the HTTP API (drain: `drain` to clients, waits for them)
 * 11. `health-beacon`: the node's health for the edge (drain: says "draining"; stop: removed)
 * 12. `operator-endpoints`: METRICS_PORT, when set
 */
export async function startRegionNode(config: RegionConfig, log: Logger): Promise<RegionNode> {
  const metrics = new RegionMetrics({ region: config.region, node: config.nodeId });
  metrics.connectionsMax.set(config.limits.maxConnectionsPerNode);
  const deps: Deps = { log, metrics };
  const redis = await connectRegionRedis({ regional: config.redisUrl, global: config.globalRedisUrl }, deps);
  const core = assembleCore(config, redis, deps);
  const { io, delivery, outbox, presence } = core;
  const resync = fanoutResync(redis, io, deps);
  const history = createHistory({
    config,
    ...deps,
    redis: redis.command,
    delivery,
    resync,
    backlog: () => outbox.depth('history'),
  });
  const bus = config.globalBus
    ? createGlobalBus({
        config,
        ...deps,
        redis: redis.command,
        globalRedis: redis.global,
        delivery,
        io,
        presence: presence.service,
        outboxDepth: (group) => outbox.depth(group),
        liveNodes: () => core.registry.liveCount(),
      })
    : undefined;
  const services: RegionServices = {
    publisher: core.publisher,
    presence: presence.service,
    ...history.reads,
    users: core.users,
    toClientError: clientErrorMapper(deps),
  };
  const verifyToken = createTokenVerifier(config.tokens);
  const http = httpOptions(config, services, verifyToken, {
    readiness: () => lifecycle.readiness(),
    metrics: () => scrape(metrics, frontEnd, core.publishLog),
  });
  const frontEnd: FrontEnd = new FrontEnd({
    config,
    ...deps,
    io,
    httpServer: core.httpServer,
    http,
    services,
    verifyToken,
    userLimits: core.userLimits,
    revocations: core.users,
    isDraining: (): boolean => lifecycle.isDraining,
  });
  const lifecycle: Lifecycle = new Lifecycle(
    [
      ...core.components,
      { name: 'fanout-resync', start() {}, stop: () => resync.stop() },
      history.component,
      ...(bus ? [bus] : []),
      periodic(
        'connection-leases',
        CONNECTION_LEASE_MS / 3,
        (): Promise<void> => core.userLimits.renew(frontEnd.connections()),
        deps,
      ),
      frontEnd,
      healthBeacon(config, redis, frontEnd, () => lifecycle.isDraining, deps),
      ...(config.metricsPort === undefined
        ? []
        : [new OperatorEndpoints(http, config.metricsPort, config.host)]),
    ],
    log,
  );
  await lifecycle.start();
  log.info({ port: frontEnd.port, region: config.region }, 'region node listening');
  return {
    url: `http://127.0.0.1:${frontEnd.port}`,
    async drain(reason = 'shutdown') {
      await lifecycle.shutdown(reason);
      log.info('drained');
    },
  };
}

/** Resyncs members when the adapter's subscriptions come back, or a room's fan-out failed. */
function fanoutResync(redis: RegionRedis, io: RegionIo, deps: Deps): FanoutResync {
  const resync = new FanoutResync({ io, ...deps });
  redis.onSubscriptionsRestored((lostAt) => resync.subscriptionsRestored(lostAt));
  redis.onFanoutFailure((channel) => {
    const room = roomOfChannel(keys.adapterChannel(), channel);
    if (room !== undefined) resync.roomAtRisk(room);
  });
  return resync;
}

function healthBeacon(
  config: RegionConfig,
  redis: RegionRedis,
  frontEnd: FrontEnd,
  isDraining: () => boolean,
  deps: Deps,
): HealthBeacon {
  return new HealthBeacon(
    redis.global,
    () => ({
      region: config.region,
      node: config.nodeId,
      url: config.publicUrl ?? `http://127.0.0.1:${frontEnd.port}`,
      connections: frontEnd.connectedSockets(),
      capacity: config.limits.maxConnectionsPerNode,
      draining: isDraining(),
    }),
    (err) => {
      deps.metrics.internalErrors.inc({ component: 'health-beacon' });
      deps.log.debug({ err: err.message }, 'health beacon not published: global Redis unavailable');
    },
  );
}

function httpOptions(
  config: RegionConfig,
  services: RegionServices,
  verifyToken: TokenVerifier,
  operator: Pick<HttpAppOptions, 'readiness' | 'metrics'>,
): HttpAppOptions {
  return {
    region: config.region,
    nodeId: config.nodeId,
    verifyToken,
    edgeSecrets: config.edgeSecrets,
    serverApiKeys: config.serverApiKeys,
    maxPayloadBytes: config.limits.maxPayloadBytes,
    maxAnswerBytes: config.limits.maxAnswerBytes,
    services,
    ...operator,
    metricsElsewhere: config.metricsPort !== undefined,
  };
}

/** `/metrics`: gauges read at scrape time, then the registry's text. */
async function scrape(metrics: RegionMetrics, frontEnd: FrontEnd, publishLog: RedisPublishLog) {
  metrics.connections.set(frontEnd.connectedSockets());
  metrics.outboxHeld.set(publishLog.heldCount);
  metrics.outboxHeldBytes.set(publishLog.heldBytes);
  metrics.rooms.set(frontEnd.roomCount());
  return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
}
