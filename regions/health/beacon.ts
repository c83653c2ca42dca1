import { loadavg, cpus } from 'node:os';
import type { RedisClient } from '../redis';
import { encodeHeartbeat, type NodeHeartbeat } from '../../shared';
import { keys } from '../keyspace';
import type { Component } from '../lifecycle';

/** The global Redis hash the edge reads (over Upstash REST) to route around unhealthy regions. */
export const HEALTH_KEY = keys.health();

/** One node's health as the edge sees it (the versioned heartbeat record of `shared/wire.ts`). */
export type NodeHealth = NodeHeartbeat;

export const HEALTH_INTERVAL_MS = 2_000;
export const HEALTH_TTL_MS = 6_000;

/**
 * Publishes this node's health into the global Redis every HEALTH_INTERVAL_MS. When the node drains
 * it says so at once (the edge stops routing here before clients are told to leave); when it stops,
 * its entry is deleted.
 */
export class HealthBeacon implements Component {
  readonly name = 'health-beacon';
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

  /** The snapshot now says `draining`: published at once. */
  drain(): Promise<void> {
    return this.beat();
  }

  async beat(): Promise<void> {
    const now = Date.now();
    const health: NodeHealth = {
      ...this.snapshot(),
      load: Math.round((loadavg()[0]! / Math.max(1, cpus().length)) * 100) / 100,
      expiresAt: now + HEALTH_TTL_MS,
    };
    try {
      await this.globalRedis.hset(HEALTH_KEY, field(health), encodeHeartbeat(health));
    } catch (err) {
      this.onError(err as Error);
    }
  }

  /** Stops beating and deletes the entry, so the edge stops routing here at once. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.globalRedis.hdel(HEALTH_KEY, field(this.snapshot())).catch(() => undefined);
  }
}

function field(health: { region: string; node: string }): string {
  return `${health.region}/${health.node}`;
}
