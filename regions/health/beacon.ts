import { loadavg, cpus } from 'node:os';
import type { RedisClient } from '../redis';

/** The global Redis hash the edge reads (over Upstash REST) to route around unhealthy regions. */
export const HEALTH_KEY = 'rt:health';

/**
 * One node's health as the edge sees it: `HSET rt:health "{region}/{node}" <json>`. An entry whose
 * `expiresAt` has passed means the node is gone. The edge counts a region healthy when one of its
 * nodes is fresh, not draining and below capacity.
 */
export interface NodeHealth {
  region: string;
  node: string;
  /** Reachable URL of the node as its operator published it (informational). */
  url: string;
  connections: number;
  /** Connections the node accepts before the edge stops sending it more. */
  capacity: number;
  /** 1-minute load average per core. */
  load: number;
  draining: boolean;
  /** Milliseconds since the epoch after which this entry is stale. */
  expiresAt: number;
}

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
      await this.globalRedis.hset(HEALTH_KEY, `${health.region}/${health.node}`, JSON.stringify(health));
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
