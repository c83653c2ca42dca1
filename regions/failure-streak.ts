import type { Counter } from 'prom-client';
import type { Logger } from './log';

/**
 * Counts every failure of one background loop (`rt_internal_errors_total{component}`) and logs it
 * once at warn when a streak of failures starts, not on every retry; the end of the streak is
 * logged at info with how many attempts failed. A loop calls `failed` per failed attempt and
 * `succeeded` after each success.
 */
export class FailureStreak {
  private streak = 0;

  constructor(
    private readonly component: string,
    private readonly counter: Pick<Counter<'component'>, 'inc'>,
    private readonly log: Logger,
  ) {}

  get failing(): boolean {
    return this.streak > 0;
  }

  failed(err: unknown, message: string, context: Record<string, unknown> = {}): void {
    this.counter.inc({ component: this.component });
    const level = this.streak++ === 0 ? 'warn' : 'debug';
    this.log[level](
      {
        ...context,
        component: this.component,
        err: (err as Error)?.message ?? String(err),
        failures: this.streak,
      },
      message,
    );
  }

  succeeded(context: Record<string, unknown> = {}): void {
    if (this.streak === 0) return;
    this.log.info({ ...context, component: this.component, failures: this.streak }, 'recovered');
    this.streak = 0;
  }
}
