import { createPublicKey } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { hostname } from 'node:os';
import { z } from 'zod';
import { MAX_DATA_BYTES, MIN_JWT_SECRET_LENGTH, parseServerApiKeys, type TokenKeys } from '../shared';
import type { RecentBounds } from './history/recent';
import { parseRedisTarget } from './redis';

// One server (`redis://`, `rediss://`) or a Redis Cluster by its seeds (`redis+cluster://h1:p1,h2:p2`).
const redisUrl = z.string().superRefine((url, ctx) => {
  try {
    parseRedisTarget(url);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});
/**
 * `postgres://[user[:password]@]host[:port][,host[:port]...][/database][?params]`: several hosts
 * (the primary and its standbys) let the node follow a failover (docs/history.md).
 */
const POSTGRES_URL = /^postgres(?:ql)?:\/\/(?:[^@/?#]*@)?([^/?#@]+)(?:\/[^?#]*)?(?:\?[^#]*)?$/;
const POSTGRES_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;
export function isPostgresUrl(url: string): boolean {
  const hosts = POSTGRES_URL.exec(url)?.[1];
  return hosts !== undefined && hosts.split(',').every((host) => POSTGRES_HOST.test(host));
}
const postgresUrl = z.string().refine(isPostgresUrl, 'must be a postgres:// URL (one or more host:port)');
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const commaList = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );
const pemPublicKey = z.string().refine((pem) => {
  try {
    return createPublicKey(pem.replaceAll('\\n', '\n')).type === 'public';
  } catch {
    return false;
  }
}, 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
const cidrList = commaList.refine(
  (items) => items.every((item) => parseCidr(item) !== undefined),
  'must be comma-separated addresses or CIDRs like 10.0.0.0/8,::1/128',
);
const originList = commaList.refine(
  (items) => items.every((o) => o === '*' || /^https?:\/\/[^/\s]+$/.test(o)),
  'must be comma-separated origins like https://app.example.com, or *',
);

/**
 * The region node's environment (public contract, DESIGN.md §3), plus tunables with defaults.
 * Parsed once at start; everything downstream receives typed values.
 */
export const regionEnvSchema = z.object({
  REGION: z.string().regex(/^[a-z0-9-]{1,64}$/, 'must be a region id like eu-west'),
  PORT: z.coerce.number().int().min(0).max(65_535),
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1..128 of letters, digits and ._-')
    .default(`${hostname()}-${process.pid}`),
  HOST: z.string().default('0.0.0.0'),
  /** The URL this node is reached at, published in its health beacon (default http://127.0.0.1:PORT). */
  PUBLIC_URL: z.url().optional(),
  REDIS_URL: redisUrl,
  GLOBAL_REDIS_URL: redisUrl,
  DATABASE_URL: postgresUrl,
  DATABASE_REPLICA_URL: postgresUrl.optional(),
  /** HS256 key; required unless JWT_PUBLIC_KEY or JWT_JWKS_URL is set. */
  JWT_SECRET: z
    .string()
    .min(MIN_JWT_SECRET_LENGTH, `must be at least ${MIN_JWT_SECRET_LENGTH} characters`)
    .optional(),
  /** During a rotation: the HS256 key being retired, still accepted (docs/operations.md). */
  JWT_SECRET_PREVIOUS: z
    .string()
    .min(MIN_JWT_SECRET_LENGTH, `must be at least ${MIN_JWT_SECRET_LENGTH} characters`)
    .optional(),
  /** RS256/ES256 public key (PEM; `\n` may be written as a literal backslash-n). */
  JWT_PUBLIC_KEY: pemPublicKey.optional(),
  /** An identity provider's JWKS URL: RS256/ES256 keys, cached and refetched on an unknown `kid`. */
  JWT_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** When set, tokens must carry this `iss`. */
  JWT_ISSUER: z.string().min(1).optional(),
  /** When set, tokens must carry this `aud`. */
  JWT_AUDIENCE: z.string().min(1).optional(),
  EDGE_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** During a rotation: the edge secret being retired, still accepted (docs/operations.md). */
  EDGE_SECRET_PREVIOUS: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Server API keys (header `x-api-key`), comma-separated, each at least 32 characters; unset: no server API. */
  SERVER_API_KEYS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const parsed = parseServerApiKeys(raw);
      if (parsed.ok) return parsed.keys;
      ctx.addIssue({ code: 'custom', message: parsed.message });
      return z.NEVER;
    }),
  /** How long a server API revocation is kept: at least the longest lifetime of the tokens you issue. */
  REVOCATION_TTL_S: positiveInt(7 * 24 * 3600),
  /** Largest `data` of one envelope, in bytes of JSON. */
  MAX_PAYLOAD_BYTES: positiveInt(MAX_DATA_BYTES),
  /** Publishes per second one connection may make (a token bucket with twice this burst). */
  PUBLISH_RATE_PER_CONNECTION: positiveInt(20),
  /** Publishes per second one user may make, over all their connections on all nodes of the region. */
  PUBLISH_RATE_PER_USER: positiveInt(50),
  MAX_CONNECTIONS_PER_USER: positiveInt(20),
  /** Connections one node accepts; above it, handshakes get `unavailable` and the edge routes elsewhere. */
  MAX_CONNECTIONS_PER_NODE: positiveInt(20_000),
  /** Rooms one connection may be in at once. */
  MAX_ROOMS_PER_CONNECTION: positiveInt(100),
  /** `join`, `leave`, `history`, `presence` and `auth` per second on one connection (burst twice this). */
  REQUEST_RATE_PER_CONNECTION: positiveInt(10),
  /** History and recovery reads one connection may have running at once. */
  MAX_READS_PER_CONNECTION: positiveInt(2),
  /** Largest `join` or `history` answer, in bytes of JSON. */
  MAX_ANSWER_BYTES: positiveInt(1024 * 1024),
  /** Bytes of `join`/`history` answers one connection gets per second (burst twice MAX_ANSWER_BYTES). */
  ANSWER_BYTES_PER_SECOND: positiveInt(512 * 1024),
  /** Engine.IO handshakes per second from one client IP (burst twice this). */
  HANDSHAKE_RATE_PER_IP: positiveInt(100),
  /** An Engine.IO session that has not completed the Socket.IO connect in this time is closed. */
  CONNECT_TIMEOUT_MS: positiveInt(5_000),
  /** Peers whose `x-forwarded-for` is believed (the edge, the region's load balancer): CIDRs. */
  TRUSTED_PROXIES: cidrList,
  /** Browser origins allowed to connect (comma-separated); unset allows any origin, without credentials. */
  ALLOWED_ORIGINS: originList,
  /** When set, `/metrics`, `/readyz` and `/healthz` answer on this port only, not the public one. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  /** How long a SIGTERM drain waits for clients to leave before closing. */
  DRAIN_TIMEOUT_MS: positiveInt(10_000),
  /** Ephemeral publishes per second one user may make in the region (counted apart from stored ones). */
  EPHEMERAL_RATE_PER_USER: positiveInt(100),
  /** How long a publish id is answered as a retry; ids (UUIDv7) older than this are refused. */
  IDEMPOTENCY_WINDOW_S: positiveInt(600),
  /** How far ahead of the node's clock an id's time may be. */
  ENVELOPE_ID_FUTURE_S: positiveInt(600),
  /** Bytes of envelopes a node holds in memory while the regional Redis is unreachable. */
  OUTBOX_HOLD_BYTES: positiveInt(16 * 1024 * 1024),
  /** How often each node trims the outbox below what every consumer group acknowledged. */
  OUTBOX_TRIM_INTERVAL_MS: positiveInt(5_000),
  /** Envelopes the history writer inserts into Postgres in one statement. */
  HISTORY_BATCH_SIZE: positiveInt(200),
  /** How long a history entry may stay unacknowledged by a node before a peer takes it over. */
  HISTORY_CLAIM_IDLE_MS: positiveInt(15_000),
  /** History older than this many days is never answered and dropped by whole partitions; unset keeps all. */
  HISTORY_RETENTION_DAYS: z.coerce.number().int().positive().optional(),
  /** Deadline of every Postgres query (statement_timeout and a client timer for a hung server). */
  POSTGRES_DEADLINE_MS: positiveInt(3_000),
  /** Envelopes Postgres refused kept in the regional dead-letter stream (the oldest are dropped). */
  HISTORY_DEAD_LETTER_MAXLEN: positiveInt(10_000),
  /** Envelopes kept per room in the regional Redis for fast reconnect recovery. */
  RECENT_HISTORY_LENGTH: positiveInt(500),
  /** Bytes of envelopes kept per room in the recent-history buffer. */
  RECENT_HISTORY_ROOM_BYTES: positiveInt(2 * 1024 * 1024),
  /** Bytes of envelopes kept in all rooms' recent-history buffers of the region together. */
  RECENT_HISTORY_BYTES: positiveInt(256 * 1024 * 1024),
  /** Rooms with a recent-history buffer; the least recently active are dropped beyond it. */
  RECENT_HISTORY_ROOMS: positiveInt(100_000),
  /** A room's recent-history buffer expires this long after its last message. */
  RECENT_HISTORY_TTL_S: positiveInt(3600),
  /** Most envelopes one `join { since }` answers with (the newest ones; older through `history`). */
  RECOVERY_LIMIT: positiveInt(1_000),
  /** WAL bytes the replica may be behind the primary before reads go to the primary. */
  REPLICA_MAX_LAG_BYTES: positiveInt(1024 * 1024),
  /** Inbound shards (streams) rooms are hashed over; must be the same in every region. */
  BUS_SHARDS: positiveInt(8),
  /** How long each region remembers a delivered envelope id, dropping bus duplicates within it. */
  BUS_DEDUP_WINDOW_S: positiveInt(3600),
  /** Entries kept per inbound shard (trimmed every few seconds). */
  BUS_MAXLEN: positiveInt(100_000),
  /** Bus entries older than this are trimmed. */
  BUS_MAX_AGE_S: positiveInt(24 * 3600),
  /** Forwarder and shard leases: a dead holder is replaced within about this time (renewed every third). */
  BUS_LEASE_MS: positiveInt(5_000),
  /** Longest wait of one bus read for new entries. */
  BUS_BLOCK_MS: positiveInt(2_000),
  /** Bus entries pending this long to another node of the region are taken over. */
  BUS_CLAIM_IDLE_MS: positiveInt(30_000),
  /** How long a region's presence list in the global Redis stays valid without a refresh. */
  PRESENCE_MIRROR_TTL_MS: positiveInt(15_000),
  /**
   * Where each other region's inbound shards are: `region=redis://host:port,...`, that region's
   * Redis as this node reaches it. Envelopes accepted here are appended there, one WAN hop.
   */
  BUS_PEERS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      const peers: { region: string; url: string }[] = [];
      // A comma starts the next peer only before `region=`: a peer's cluster URL lists its seeds with commas.
      for (const item of value
        .split(/,(?=\s*[a-z0-9-]{1,64}=)/)
        .map((part) => part.trim())
        .filter(Boolean)) {
        const [region = '', url = ''] = item.split(/=(.*)/s);
        if (
          !/^[a-z0-9-]{1,64}$/.test(region) ||
          !redisUrl.safeParse(url).success ||
          peers.some((p) => p.region === region)
        ) {
          ctx.addIssue({
            code: 'custom',
            message: `"${item}" is not region=redis://host:port (each region once)`,
          });
          return z.NEVER;
        }
        peers.push({ region, url });
      }
      return peers;
    }),
  /** How long a member whose last connection went stays listed; a reconnect inside it sends no leave/join. */
  PRESENCE_LEAVE_GRACE_MS: z.coerce.number().int().nonnegative().default(5_000),
  /** A node that stopped heartbeating this long counts as dead: its connections are taken off presence. */
  PRESENCE_NODE_LEASE_MS: positiveInt(15_000),
  /** Most members one presence answer lists (`count` is always exact). */
  PRESENCE_MEMBERS_CAP: positiveInt(1_000),
  /** `off`: no cross-region bus on this node (a single-region deployment, or the benchmark's baseline). */
  GLOBAL_BUS: z.enum(['on', 'off']).default('on'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type RegionEnv = z.infer<typeof regionEnvSchema>;

export interface RegionConfig {
  region: string;
  nodeId: string;
  host: string;
  port: number;
  publicUrl: string | undefined;
  redisUrl: string;
  globalRedisUrl: string;
  databaseUrl: string;
  databaseReplicaUrl: string | undefined;
  tokens: TokenKeys;
  edgeSecret: string | undefined;
  /** `x-edge-secret` values accepted: EDGE_SECRET, and EDGE_SECRET_PREVIOUS during a rotation; empty: none required. */
  edgeSecrets: readonly string[];
  serverApiKeys: string[];
  revocationTtlMs: number;
  limits: {
    maxPayloadBytes: number;
    publishRatePerConnection: number;
    publishRatePerUser: number;
    ephemeralRatePerUser: number;
    maxConnectionsPerUser: number;
    maxConnectionsPerNode: number;
    maxRoomsPerConnection: number;
    requestRatePerConnection: number;
    maxReadsPerConnection: number;
    maxAnswerBytes: number;
    answerBytesPerSecond: number;
    handshakeRatePerIp: number;
    connectTimeoutMs: number;
  };
  trustedProxies: string[];
  /** Empty: any origin, never with credentials. */
  allowedOrigins: string[];
  metricsPort: number | undefined;
  drainTimeoutMs: number;
  idempotencyWindowS: number;
  idFutureS: number;
  outbox: { holdMaxBytes: number; trimIntervalMs: number };
  history: {
    batchSize: number;
    claimIdleMs: number;
    deadLetterMaxLen: number;
    postgresDeadlineMs: number;
    retentionDays: number | undefined;
    recent: RecentBounds;
    recoveryLimit: number;
    replicaMaxLagBytes: number;
  };
  bus: {
    /** Every other region, and the URL of its Redis (holding its inbound shards). */
    peers: { region: string; url: string }[];
    shards: number;
    dedupWindowS: number;
    maxLen: number;
    maxAgeMs: number;
    leaseMs: number;
    blockMs: number;
    claimIdleMs: number;
    presenceMirrorTtlMs: number;
  };
  presence: { leaveGraceMs: number; nodeLeaseMs: number; membersCap: number };
  /** False with `GLOBAL_BUS=off`: the node serves its region only. */
  globalBus: boolean;
  logLevel: RegionEnv['LOG_LEVEL'];
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws a ConfigError naming the first bad variable. */
export function parseRegionConfig(env: Record<string, string | undefined>): RegionConfig {
  const result = regionEnvSchema.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const message = env[variable] === undefined ? 'is required' : `is invalid (${issue.message})`;
    throw new ConfigError(variable, message);
  }
  const e = result.data;
  if (!e.JWT_SECRET && !e.JWT_PUBLIC_KEY && !e.JWT_JWKS_URL) {
    throw new ConfigError('JWT_SECRET', 'is required (or JWT_PUBLIC_KEY or JWT_JWKS_URL)');
  }
  if (e.EDGE_SECRET_PREVIOUS && !e.EDGE_SECRET)
    throw new ConfigError(
      'EDGE_SECRET_PREVIOUS',
      'is invalid (set only beside EDGE_SECRET, during a rotation)',
    );
  if (e.JWT_SECRET_PREVIOUS && !e.JWT_SECRET)
    throw new ConfigError(
      'JWT_SECRET_PREVIOUS',
      'is invalid (set only beside JWT_SECRET, during a rotation)',
    );
  if (e.BUS_PEERS.some((peer) => peer.region === e.REGION))
    throw new ConfigError('BUS_PEERS', `is invalid (names this node's own region ${e.REGION})`);
  return {
    region: e.REGION,
    nodeId: e.NODE_ID,
    host: e.HOST,
    port: e.PORT,
    publicUrl: e.PUBLIC_URL,
    redisUrl: e.REDIS_URL,
    globalRedisUrl: e.GLOBAL_REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    databaseReplicaUrl: e.DATABASE_REPLICA_URL,
    tokens: {
      secret: e.JWT_SECRET,
      previousSecret: e.JWT_SECRET_PREVIOUS,
      publicKeyPem: e.JWT_PUBLIC_KEY?.replaceAll('\\n', '\n'),
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
    },
    edgeSecret: e.EDGE_SECRET,
    edgeSecrets: e.EDGE_SECRET
      ? [e.EDGE_SECRET, ...(e.EDGE_SECRET_PREVIOUS ? [e.EDGE_SECRET_PREVIOUS] : [])]
      : [],
    serverApiKeys: e.SERVER_API_KEYS,
    revocationTtlMs: e.REVOCATION_TTL_S * 1000,
    limits: {
      maxPayloadBytes: e.MAX_PAYLOAD_BYTES,
      publishRatePerConnection: e.PUBLISH_RATE_PER_CONNECTION,
      publishRatePerUser: e.PUBLISH_RATE_PER_USER,
      ephemeralRatePerUser: e.EPHEMERAL_RATE_PER_USER,
      maxConnectionsPerUser: e.MAX_CONNECTIONS_PER_USER,
      maxConnectionsPerNode: e.MAX_CONNECTIONS_PER_NODE,
      maxRoomsPerConnection: e.MAX_ROOMS_PER_CONNECTION,
      requestRatePerConnection: e.REQUEST_RATE_PER_CONNECTION,
      maxReadsPerConnection: e.MAX_READS_PER_CONNECTION,
      maxAnswerBytes: e.MAX_ANSWER_BYTES,
      answerBytesPerSecond: e.ANSWER_BYTES_PER_SECOND,
      handshakeRatePerIp: e.HANDSHAKE_RATE_PER_IP,
      connectTimeoutMs: e.CONNECT_TIMEOUT_MS,
    },
    trustedProxies: e.TRUSTED_PROXIES,
    allowedOrigins: e.ALLOWED_ORIGINS.includes('*') ? [] : e.ALLOWED_ORIGINS,
    metricsPort: e.METRICS_PORT,
    drainTimeoutMs: e.DRAIN_TIMEOUT_MS,
    idempotencyWindowS: e.IDEMPOTENCY_WINDOW_S,
    idFutureS: e.ENVELOPE_ID_FUTURE_S,
    outbox: { holdMaxBytes: e.OUTBOX_HOLD_BYTES, trimIntervalMs: e.OUTBOX_TRIM_INTERVAL_MS },
    history: {
      batchSize: e.HISTORY_BATCH_SIZE,
      claimIdleMs: e.HISTORY_CLAIM_IDLE_MS,
      deadLetterMaxLen: e.HISTORY_DEAD_LETTER_MAXLEN,
      postgresDeadlineMs: e.POSTGRES_DEADLINE_MS,
      retentionDays: e.HISTORY_RETENTION_DAYS,
      recent: {
        length: e.RECENT_HISTORY_LENGTH,
        roomMaxBytes: e.RECENT_HISTORY_ROOM_BYTES,
        totalMaxBytes: e.RECENT_HISTORY_BYTES,
        maxRooms: e.RECENT_HISTORY_ROOMS,
        ttlMs: e.RECENT_HISTORY_TTL_S * 1000,
      },
      recoveryLimit: e.RECOVERY_LIMIT,
      replicaMaxLagBytes: e.REPLICA_MAX_LAG_BYTES,
    },
    bus: {
      peers: e.BUS_PEERS,
      shards: e.BUS_SHARDS,
      dedupWindowS: e.BUS_DEDUP_WINDOW_S,
      maxLen: e.BUS_MAXLEN,
      maxAgeMs: e.BUS_MAX_AGE_S * 1000,
      leaseMs: e.BUS_LEASE_MS,
      blockMs: e.BUS_BLOCK_MS,
      claimIdleMs: e.BUS_CLAIM_IDLE_MS,
      presenceMirrorTtlMs: e.PRESENCE_MIRROR_TTL_MS,
    },
    presence: {
      leaveGraceMs: e.PRESENCE_LEAVE_GRACE_MS,
      nodeLeaseMs: e.PRESENCE_NODE_LEASE_MS,
      membersCap: e.PRESENCE_MEMBERS_CAP,
    },
    globalBus: e.GLOBAL_BUS === 'on',
    logLevel: e.LOG_LEVEL,
  };
}

/** `npm run region -- --help`: every variable, whether it is required, and its default. */
export function regionEnvHelp(): string {
  const lines = ['Usage: npm run region   (configured by environment variables)', ''];
  for (const [name, schema] of Object.entries(regionEnvSchema.shape)) {
    const parsed = (schema as z.ZodType).safeParse(undefined);
    const note = !parsed.success
      ? 'required'
      : parsed.data === undefined || (Array.isArray(parsed.data) && parsed.data.length === 0)
        ? 'optional'
        : `default ${String(parsed.data)}`;
    lines.push(`  ${name.padEnd(28)} ${note}`);
  }
  lines.push('', 'A missing or malformed variable stops the node with one line naming it (exit code 2).', '');
  return lines.join('\n');
}

/** `10.0.0.0/8`, `::1/128` or a bare address, as a BlockList holding it; undefined when malformed. */
export function parseCidr(text: string): BlockList | undefined {
  const [address = '', bits] = text.split('/');
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > max ||
    (bits !== undefined && !/^\d+$/.test(bits))
  ) {
    return undefined;
  }
  const list = new BlockList();
  list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  return list;
}
