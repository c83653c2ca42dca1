import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log';
import type { HistoryMetrics } from './metrics';
import { dropExpiredPartitions, ensurePartitionsAround } from './partitions';
import type { PgClient } from './pg-client';

/** How often partitions are created ahead and retention is applied. */
const MAINTENANCE_EVERY_MS = 3_600_000;
/** After a failure (the primary unreachable), the next try. */
const RETRY_MS = 30_000;

/**
 * Keeps `messages` partitioned ahead of time and within retention, from every node (the SQL
 * functions serialize concurrent callers, and both steps are idempotent): at start and then every
 * hour, the partitions of yesterday to two days ahead are created when missing, and with
 * `retentionDays` the partitions whose day is wholly older than the horizon are dropped.
 */
export class HistoryMaintenance {
  private readonly stopped = new AbortController();
  private running: Promise<void> | undefined;
  private failing = false;

  constructor(
    private readonly primary: PgClient,
    private readonly retentionDays: number | undefined,
    private readonly deps: { metrics: HistoryMetrics; log: Logger },
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    await this.running;
  }

  /** One round; throws when the primary cannot be used. */
  async runOnce(): Promise<{ created: number; dropped: string[] }> {
    const created = await this.primary.query((sql) => ensurePartitionsAround(sql));
    const dropped =
      this.retentionDays === undefined
        ? []
        : await this.primary.query((sql) => dropExpiredPartitions(sql, this.retentionDays!));
    return { created, dropped };
  }

  private async loop(): Promise<void> {
    const { log, metrics } = this.deps;
    while (!this.stopped.signal.aborted) {
      let waitMs = MAINTENANCE_EVERY_MS;
      try {
        const { created, dropped } = await this.runOnce();
        if (created > 0 || dropped.length > 0 || this.failing) {
          log.info({ created, dropped }, 'history partitions maintained');
        }
        this.failing = false;
      } catch (err) {
        metrics.maintenanceFailures.inc();
        if (!this.failing) {
          log.warn({ err: (err as Error).message }, 'history partition maintenance failed; retrying');
        }
        this.failing = true;
        waitMs = RETRY_MS;
      }
      await sleep(waitMs, undefined, { signal: this.stopped.signal }).catch(() => undefined);
    }
  }
}
