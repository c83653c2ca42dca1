import { Redis } from '@upstash/redis/cloudflare';
import { HEALTH_HASH, type NodeHealthEntry } from '../../shared/regions';
import { decodeHeartbeat } from '../../shared/wire';
import type { EdgeConfig } from '../config';

/**
 * What the edge knows about node health. `live`: heartbeats read from the global Redis; `static`:
 * no usable health (not configured, read failed, or no fresh heartbeat at all), so routing uses the
 * registry alone and `reason` says why.
 */
export interface HealthSnapshot {
  source: 'live' | 'static';
  reason?: string;
  /** Heartbeats as read (fresh or stale); empty when none could be read. */
  entries: NodeHealthEntry[];
  readAt: number;
}

/**
 * Reads node health for one request. `background`, when given (the request's `waitUntil`), lets a
 * refresh outlive the request that started it.
 */
export type HealthReader = (
  config: EdgeConfig,
  background?: (work: Promise<unknown>) => void,
) => Promise<HealthSnapshot>;

const READ_TIMEOUT_MS = 1_500;

interface CachedHealth {
  /** One REST client per endpoint, reused by every read of this isolate. */
  redis: Redis;
  readAt: number;
  snapshot: Promise<HealthSnapshot>;
  /** A background refresh in flight. */
  refreshing?: Promise<HealthSnapshot>;
}

// Per isolate: one read in flight or cached per Redis URL, shared by concurrent requests.
const cache = new Map<string, CachedHealth>();

/**
 * Reads `rt:health` over Upstash REST, reusing a read for `config.healthCacheMs`. A read older than
 * half of that is still answered at once, and refreshed behind the request (stale-while-revalidate
 * inside the cache period), so under steady traffic no handshake waits for Upstash; the answer is
 * never older than `healthCacheMs` plus one read.
 */
export const readHealth: HealthReader = (config, background) => {
  const upstash = config.upstash;
  if (!upstash) {
    return Promise.resolve(staticHealth('UPSTASH_REDIS_REST_URL / UPSTASH_REDIS_REST_TOKEN are not set'));
  }
  const now = Date.now();
  const cached = cache.get(upstash.url);
  const age = cached ? now - cached.readAt : Infinity;
  if (cached && age < config.healthCacheMs) {
    if (age >= config.healthCacheMs / 2 && !cached.refreshing) {
      const refresh = readOnce(cached.redis);
      cached.refreshing = refresh;
      void refresh.then(() => {
        if (cache.get(upstash.url) === cached)
          cache.set(upstash.url, { redis: cached.redis, readAt: Date.now(), snapshot: refresh });
      });
      background?.(refresh);
    }
    return cached.snapshot;
  }
  const redis = cached?.redis ?? restClient(upstash.url, upstash.token);
  const snapshot = readOnce(redis);
  cache.set(upstash.url, { redis, readAt: now, snapshot });
  return snapshot;
};

function restClient(url: string, token: string): Redis {
  return new Redis({
    url,
    token,
    retry: false,
    enableTelemetry: false,
    automaticDeserialization: false,
    // A function, so a timeout rejects instead of resolving with a placeholder result.
    signal: () => AbortSignal.timeout(READ_TIMEOUT_MS),
  });
}

async function readOnce(redis: Redis): Promise<HealthSnapshot> {
  try {
    const hash = (await redis.hgetall<Record<string, string>>(HEALTH_HASH)) ?? {};
    return healthFromHash(hash, Date.now());
  } catch (err) {
    console.error(JSON.stringify({ level: 'warn', msg: 'health read failed', err: String(err) }));
    return staticHealth(`health read failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Parses the hash's values; malformed entries are ignored. */
export function healthFromHash(hash: Record<string, unknown>, now: number): HealthSnapshot {
  const entries: NodeHealthEntry[] = [];
  for (const value of Object.values(hash)) {
    const entry = decodeHeartbeat(value);
    if (entry) entries.push(entry);
  }
  // Every heartbeat stale means the heartbeat pipeline is broken, not that every region died at once.
  if (!entries.some((e) => e.expiresAt > now)) {
    return { ...staticHealth(`no fresh heartbeat in ${HEALTH_HASH}`), entries, readAt: now };
  }
  return { source: 'live', entries, readAt: now };
}

function staticHealth(reason: string): HealthSnapshot {
  return { source: 'static', reason, entries: [], readAt: Date.now() };
}
