import { FailureStreak } from './failure-streak';
import type { Logger } from './log';
import type { RegionMetrics } from './metrics';

/** One dependency `/readyz` reports: 'up' or another state. */
export interface ReadinessCheck {
  readonly name: string;
  state(): Promise<string> | string;
  /**
   * Only critical checks make the node not ready: live delivery goes on without the rest, and a
   * history or peer outage must not pull every node out of the load balancer.
   */
  readonly critical?: boolean;
}

/**
 * A part of a region node with a lifetime of its own. The node starts its components in a declared
 * order (each may use what started before it), and goes away in the reverse order, in two phases:
 * first every `drain` (say goodbye while everything still works: the beacon says "draining", the
 * socket front end tells clients to reconnect elsewhere and waits for them), then every `stop`.
 */
export interface Component {
  /** Names the component in logs. */
  readonly name: string;
  start(): Promise<void> | void;
  drain?(reason: string): Promise<void>;
  /** Releases what `start` took; bounded (every wait on another process has a deadline). */
  stop(): Promise<void> | void;
  /** What this component adds to `/readyz`. */
  readonly checks?: readonly ReadinessCheck[];
}

/** Starts components in order and takes them down in reverse; answers `/readyz` from their checks. */
export class Lifecycle {
  private readonly started: Component[] = [];
  private draining = false;
  private down: Promise<void> | undefined;

  constructor(
    private readonly components: readonly Component[],
    private readonly log: Logger,
  ) {}

  /** True once `shutdown` was called. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Starts every component in order; when one fails, stops those already started and rethrows. */
  async start(): Promise<void> {
    for (const component of this.components) {
      try {
        await component.start();
      } catch (err) {
        this.log.error({ err, component: component.name }, 'start failed; stopping what started');
        await this.stopStarted();
        throw err;
      }
      this.started.push(component);
    }
  }

  /** Drains, then stops, every started component in reverse start order (once; later calls wait). */
  shutdown(reason: string): Promise<void> {
    this.draining = true;
    this.down ??= (async () => {
      for (const component of [...this.started].reverse()) await component.drain?.(reason);
      await this.stopStarted();
    })();
    return this.down;
  }

  /** Every component's checks; not ready when draining or a critical check is not 'up'. */
  async readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const checks: Record<string, string> = {};
    let ready = !this.draining;
    for (const check of this.components.flatMap((c) => c.checks ?? [])) {
      checks[check.name] = await check.state();
      if (check.critical && checks[check.name] !== 'up') ready = false;
    }
    if (this.draining) checks.node = 'draining';
    return { ready, checks };
  }

  private async stopStarted(): Promise<void> {
    while (this.started.length > 0) {
      const component = this.started.pop()!;
      try {
        await component.stop();
      } catch (err) {
        this.log.warn({ err, component: component.name }, 'stop failed; going on with the rest');
      }
    }
  }
}

/**
 * A component that runs `task` every `intervalMs` (with `atStart`, also once at start, which waits
 * for it), never two runs at once; each failure counted in `rt_internal_errors_total{component}`
 * and logged once per streak. `stop` waits for a run in progress.
 */
export function periodic(
  name: string,
  intervalMs: number,
  task: () => Promise<void>,
  deps: { log: Logger; metrics: RegionMetrics; atStart?: boolean },
): Component {
  const failures = new FailureStreak(name, deps.metrics.internalErrors, deps.log);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const run = () =>
    (running ??= task()
      .then(
        () => failures.succeeded(),
        (err: unknown) => failures.failed(err, `${name} failed`),
      )
      .finally(() => (running = undefined)));
  return {
    name,
    async start() {
      if (deps.atStart) await run();
      timer = setInterval(() => void run(), intervalMs);
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
