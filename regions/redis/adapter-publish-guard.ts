import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import { holdRedisWritesThisTurn } from '../turn-writes';
import type { RedisClient } from './client';

/**
 * The adapter publishes without awaiting (socket.io-redis-adapter), so a failed publish would be an
 * unhandled rejection. While the regional Redis is down, cross-node fan-out fails fast (offline queue
 * off), local members are still served, and each failure is counted and logged here. The
 * publishes of one turn are written to Redis together (`holdRedisWritesThisTurn`).
 */
export function guardAdapterPublishes(
  client: RedisClient,
  deps: { log: Logger; metrics: RegionMetrics },
  failed: (channel: string) => void,
): void {
  // PUBLISH for the classic adapter, SPUBLISH for the sharded one (on a cluster).
  for (const command of ['publish', 'spublish'] as const) {
    const send = client[command].bind(client) as (
      channel: string,
      message: string | Buffer,
    ) => Promise<number>;
    (client as unknown as Record<typeof command, typeof send>)[command] = (channel, message) => {
      // The publishes of one delivery batch (one per envelope) go to Redis in one write.
      holdRedisWritesThisTurn(client);
      return send(channel, message).catch((err: Error) => {
        deps.metrics.internalErrors.inc({ component: 'adapter-publish' });
        deps.log.warn({ err: err.message }, 'cross-node fan-out failed: regional Redis unavailable');
        failed(channel);
        return 0;
      });
    };
  }
}
