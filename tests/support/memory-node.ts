import { Server } from 'socket.io';
import { createTokenVerifier, type Envelope } from '../../shared';
import { clientErrorMapper } from '../../regions/client-errors';
import { parseRegionConfig, type RegionConfig } from '../../regions/config';
import { HistoryMetrics } from '../../regions/history/metrics';
import { MemoryRecentHistory } from '../../regions/history/memory-recent';
import { MemoryHistoryStore } from '../../regions/history/memory-store';
import { HistoryPages } from '../../regions/history/pages';
import { HistoryRecovery } from '../../regions/history/recovery';
import type { HttpAppOptions } from '../../regions/http/app';
import { MemoryUserLimits } from '../../regions/limits/memory-user-limits';
import { createLogger } from '../../regions/log';
import { RegionMetrics } from '../../regions/metrics';
import { MemoryPresence } from '../../regions/presence/memory-presence';
import { PresenceService } from '../../regions/presence/service';
import { RoomDelivery, type RegionIo } from '../../regions/publish/delivery';
import { MemoryPublishLog } from '../../regions/publish/memory-log';
import { CONFORMANCE_RULES } from '../../regions/publish/publish-log-conformance';
import { Publisher } from '../../regions/publish/publisher';
import type { RegionServices } from '../../regions/services';
import { TEST_JWT_SECRET } from './tokens';

export const MEMORY_REGION = 'eu-west';
export const MEMORY_NODE = 'eu-west-1';
export const MEMORY_SERVER_KEY = 'server-key-0123456789-0123456789-0123456789';
/** The user whose tokens the memory node treats as revoked. */
export const REVOKED_USER = 'revoked';

/**
 * A node's configuration as `parseRegionConfig` makes it, every default kept but `env`. The Redis and
 * Postgres URLs are never connected to: the memory node has neither.
 */
export function memoryConfig(env: Record<string, string> = {}): RegionConfig {
  return parseRegionConfig({
    REGION: MEMORY_REGION,
    NODE_ID: MEMORY_NODE,
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: 'redis://127.0.0.1:1',
    GLOBAL_REDIS_URL: 'redis://127.0.0.1:1',
    DATABASE_URL: 'postgres://127.0.0.1:1/none',
    JWT_SECRET: TEST_JWT_SECRET,
    ...env,
  });
}

/**
 * A region node's services on the memory backends (publish log, presence, recent history, history
 * store, user limits), wired as the node wires the real ones: publishes are delivered to `io`'s rooms
 * through `RoomDelivery`, which feeds the recent-history buffer that `join { since }` recovers from.
 * No Redis, no Postgres, no process.
 */
export function memoryNode(
  options: { config?: RegionConfig; io?: RegionIo; ready?: boolean; edgeSecrets?: string[] } = {},
) {
  const config = options.config ?? memoryConfig();
  const io = options.io ?? new Server();
  const deps = {
    log: createLogger('silent', { region: config.region, node: config.nodeId }),
    metrics: new RegionMetrics({ region: config.region, node: config.nodeId }),
  };
  const publishLog = new MemoryPublishLog(CONFORMANCE_RULES);
  const presenceStore = new MemoryPresence(config.region, config.nodeId, config.presence);
  const recent = new MemoryRecentHistory(config.history.recent);
  const history = new MemoryHistoryStore();
  const userLimits = new MemoryUserLimits(config.nodeId, {
    maxConnectionsPerUser: config.limits.maxConnectionsPerUser,
  });
  const delivery = new RoomDelivery(io, deps.metrics);
  /** Every envelope delivered to a room, in delivery order. */
  const delivered: Envelope[] = [];
  delivery.observe((batch) => {
    for (const encoded of batch) delivered.push(encoded.envelope);
    recent.append(batch);
  });
  const historyMetrics = new HistoryMetrics(deps.metrics.registry, async () => 0);
  const services: RegionServices = {
    publisher: new Publisher({
      region: config.region,
      maxPayloadBytes: config.limits.maxPayloadBytes,
      log: publishLog,
      delivery,
      metrics: deps.metrics,
      logger: deps.log,
    }),
    presence: new PresenceService(presenceStore, io, config.region, config.presence.membersCap, deps),
    recovery: new HistoryRecovery(recent, history, config.history.recoveryLimit, {
      metrics: historyMetrics,
      log: deps.log,
    }),
    history: new HistoryPages(history),
    users: { isRevoked: (user) => user === REVOKED_USER, disconnectUser: async () => undefined },
    toClientError: clientErrorMapper(deps),
  };
  const verifyToken = createTokenVerifier({ secret: TEST_JWT_SECRET });
  const http: HttpAppOptions = {
    region: config.region,
    nodeId: config.nodeId,
    verifyToken,
    edgeSecrets: options.edgeSecrets ?? [],
    serverApiKeys: [MEMORY_SERVER_KEY],
    maxPayloadBytes: config.limits.maxPayloadBytes,
    maxAnswerBytes: config.limits.maxAnswerBytes,
    services,
    readiness: async () => ({
      ready: options.ready ?? true,
      checks: { redis: options.ready === false ? 'down' : 'up' },
    }),
    metrics: async () => ({ contentType: 'text/plain', body: await deps.metrics.registry.metrics() }),
  };
  return {
    config,
    io,
    deps,
    services,
    http,
    verifyToken,
    delivered,
    publishLog,
    presenceStore,
    recent,
    history,
    userLimits,
  };
}

export type MemoryNode = ReturnType<typeof memoryNode>;
