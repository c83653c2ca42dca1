import { MIN_JWT_SECRET_LENGTH, createTokenVerifier, type TokenVerifier } from '../shared/auth';
import { parseRegistry, type RegionRegistry } from '../shared/regions';
import { parseServerApiKeys } from '../shared/server-keys';

/** The Worker's bindings: vars from wrangler.toml and secrets set with `wrangler secret put`. */
export interface EdgeBindings {
  /** JSON array of `{ id, url, lat, lon }` (or the array itself when written as TOML). */
  REGIONS?: unknown;
  /** "1" only in the local simulation: sim geo and `/dev/token`. */
  SIM?: string;
  /** Comma-separated origins allowed by CORS on the HTTP API, or "*" (default). */
  CORS_ORIGINS?: string;
  /** How long one isolate reuses a health read, in milliseconds (default 3000). */
  HEALTH_CACHE_MS?: string;
  /** "1": send sessions straight to node URLs from the health beacons instead of region URLs. */
  DIRECT_TO_NODES?: string;
  /** HS256 key, at least 32 characters (the nodes' JWT_SECRET). */
  JWT_SECRET?: string;
  /** During a rotation: the HS256 key being retired, still accepted (docs/operations.md). */
  JWT_SECRET_PREVIOUS?: string;
  /** RS256/ES256 public key (PEM), as on the nodes. */
  JWT_PUBLIC_KEY?: string;
  /** An identity provider's JWKS URL, as on the nodes. */
  JWT_JWKS_URL?: string;
  JWT_ISSUER?: string;
  JWT_AUDIENCE?: string;
  EDGE_SECRET?: string;
  /** Server API keys (header `x-api-key`), comma-separated, each at least 32 characters. */
  SERVER_API_KEYS?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
}

export interface EdgeConfig {
  regions: RegionRegistry;
  sim: boolean;
  corsOrigins: '*' | string[];
  healthCacheMs: number;
  directToNodes: boolean;
  jwtSecret: string | undefined;
  /** Verifies API tokens with the same keys and rules as the nodes; undefined when no key is set. */
  verifyToken: TokenVerifier | undefined;
  edgeSecret: string | undefined;
  /** Empty: the server API answers `unauthorized` to every key. */
  serverApiKeys: string[];
  upstash: { url: string; token: string } | undefined;
}

/** A configuration the edge cannot work with; answered as a 500 with the message, never thrown raw. */
export class EdgeConfigError extends Error {
  override name = 'EdgeConfigError';
}

const DEFAULT_HEALTH_CACHE_MS = 3_000;
const parsed = new WeakMap<object, EdgeConfig>();

/** Parses the bindings once per isolate (bindings objects are reused across requests). */
export function edgeConfig(env: EdgeBindings | undefined): EdgeConfig {
  const bindings = env ?? {};
  const known = parsed.get(bindings);
  if (known) return known;
  const registry = parseRegistry(bindings.REGIONS);
  if (!registry.ok) throw new EdgeConfigError(registry.message);
  const cacheMs = Number(bindings.HEALTH_CACHE_MS ?? DEFAULT_HEALTH_CACHE_MS);
  if (!Number.isFinite(cacheMs) || cacheMs < 0) {
    throw new EdgeConfigError('HEALTH_CACHE_MS must be a non-negative number of milliseconds');
  }
  const serverKeys = parseServerApiKeys(bindings.SERVER_API_KEYS);
  if (!serverKeys.ok) throw new EdgeConfigError(`SERVER_API_KEYS: ${serverKeys.message}`);
  const origins = (bindings.CORS_ORIGINS ?? '*')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  const secret = bindings.JWT_SECRET || undefined;
  if (secret && secret.length < MIN_JWT_SECRET_LENGTH) {
    throw new EdgeConfigError(`JWT_SECRET must be at least ${MIN_JWT_SECRET_LENGTH} characters`);
  }
  const previousSecret = bindings.JWT_SECRET_PREVIOUS || undefined;
  if (previousSecret && (!secret || previousSecret.length < MIN_JWT_SECRET_LENGTH)) {
    throw new EdgeConfigError(
      `JWT_SECRET_PREVIOUS must be at least ${MIN_JWT_SECRET_LENGTH} characters, and set only beside JWT_SECRET`,
    );
  }
  const publicKeyPem = bindings.JWT_PUBLIC_KEY?.replaceAll('\\n', '\n') || undefined;
  const jwksUrl = bindings.JWT_JWKS_URL || undefined;
  if (jwksUrl && !/^https?:\/\//.test(jwksUrl))
    throw new EdgeConfigError('JWT_JWKS_URL must be an http(s) URL');
  const config: EdgeConfig = {
    regions: registry.regions,
    sim: bindings.SIM === '1',
    corsOrigins: origins.length === 0 || origins.includes('*') ? '*' : origins,
    healthCacheMs: cacheMs,
    directToNodes: bindings.DIRECT_TO_NODES === '1',
    jwtSecret: secret,
    verifyToken:
      secret || publicKeyPem || jwksUrl
        ? createTokenVerifier({
            secret,
            previousSecret,
            publicKeyPem,
            jwksUrl,
            issuer: bindings.JWT_ISSUER || undefined,
            audience: bindings.JWT_AUDIENCE || undefined,
          })
        : undefined,
    edgeSecret: bindings.EDGE_SECRET || undefined,
    serverApiKeys: serverKeys.keys,
    upstash:
      bindings.UPSTASH_REDIS_REST_URL && bindings.UPSTASH_REDIS_REST_TOKEN
        ? { url: bindings.UPSTASH_REDIS_REST_URL, token: bindings.UPSTASH_REDIS_REST_TOKEN }
        : undefined,
  };
  parsed.set(bindings, config);
  return config;
}
