import { loadavg, cpus } from 'node:os';
import type { RedisClient } from '../redis';
import { encodeHeartbeat, type NodeHeartbeat } from '../../shared';
import { keys } from '../keyspace';

/** The global Redis hash the edge reads (over Upstash REST) to route around unhealthy regions. */
export const HEALTH_KEY = keys.health();

/** One node's health as the edge sees it (the versioned heartbeat record of `shared/wire.ts`). */
export type NodeHealth = NodeHeartbeat;

export const HEALTH_INTERVAL_MS = 2_000;
export const HEALTH_TTL_MS = 6_000;

/** Publishes this node's health into the global Redis every HEALTH_INTERVAL_MS. */
export class HealthBeacon {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly globalRedis: RedisClient,
    private readonly snapshot: () => Omit<NodeHealth, 'expiresAt' | 'load'>,
    private readonly onError: (err: Error) => void,
  ) {}

  start(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), HEALTH_INTERVAL_MS);
  }

  async beat(): Promise<void> {
    const now = Date.now();
    const health: NodeHealth = {
      ...this.snapshot(),
      load: Math.round((loadavg()[0]! / Math.max(1, cpus().length)) * 100) / 100,
      expiresAt: now + HEALTH_TTL_MS,
    };
    try {
      await this.globalRedis.hset(HEALTH_KEY, `${health.region}/${health.node}`, encodeHeartbeat(health));
    } catch (err) {
      this.onError(err as Error);
    }
  }

  /** Stops beating; with `remove`, deletes the entry so the edge stops routing here at once. */
  async stop(remove: { region: string; node: string } | undefined): Promise<void> {
    clearInterval(this.timer);
    if (remove)
      await this.globalRedis.hdel(HEALTH_KEY, `${remove.region}/${remove.node}`).catch(() => undefined);
  }
}
