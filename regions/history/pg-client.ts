import type { Logger } from '../log';
import type { HistoryMetrics, ReadSource } from './metrics';
import { isUnavailableError, type Sql } from './store';

/** What the last query to a server showed: it answered, it refused or dropped us, or it never answered. */
export type PgHealth = 'up' | 'down' | 'hung';

/** A query that got no answer within the deadline (the server or the network hangs). */
export class PgDeadlineError extends Error {
  constructor(server: ReadSource, deadlineMs: number) {
    super(`postgres ${server}: no answer within ${deadlineMs} ms`);
    this.name = 'PgDeadlineError';
  }
}

/**
 * One Postgres server (the primary or the replica) behind a deadline. Every query is bounded twice:
 * by `statement_timeout` on the server (set per session), and by a timer here, which also covers a
 * server that answers nothing at all (a stopped process or a partition keeps TCP connections open, so
 * no socket error ever comes). A query past the timer fails with `PgDeadlineError`, which counts as
 * "unavailable"; its client is then abandoned (its connections destroyed) and a fresh one is used,
 * since a connection waiting for an answer that never comes is lost for good.
 */
export class PgClient {
  private sql: Sql;
  private state: PgHealth = 'up';
  /** False until the first query settles: before that `state` is a guess. */
  private known = false;
  private probing: Promise<PgHealth> | undefined;

  constructor(
    readonly server: ReadSource,
    private readonly connect: () => Sql,
    readonly deadlineMs: number,
    private readonly deps: { metrics: HistoryMetrics; log: Logger },
  ) {
    this.sql = connect();
  }

  /** The last known health, without asking the server. */
  get health(): PgHealth {
    return this.state;
  }

  /** Runs `query` with the deadline; records the server's health from the outcome. */
  async query<T>(query: (sql: Sql) => Promise<T>): Promise<T> {
    const sql = this.sql;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PgDeadlineError(this.server, this.deadlineMs)), this.deadlineMs);
    });
    try {
      const result = await Promise.race([query(sql), deadline]);
      this.mark('up');
      return result;
    } catch (err) {
      if (err instanceof PgDeadlineError) this.hung(sql);
      // A client abandoned meanwhile fails what it still held (CONNECTION_DESTROYED): that says
      // nothing new about the server.
      else if (sql !== this.sql) throw err;
      // A connection that opened but got no answer in time: the server hangs, like a query would.
      else if ((err as { code?: unknown }).code === 'CONNECT_TIMEOUT') this.mark('hung', err);
      else if (isUnavailableError(err)) this.mark('down', err);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The health for `/readyz`: answered at once from the last query's outcome, while a `SELECT 1`
   * (bounded by the deadline) refreshes it in the background. Only the very first call waits for it.
   */
  async probe(): Promise<PgHealth> {
    this.probing ??= this.query((sql) => sql`SELECT 1`)
      .catch(() => undefined)
      .then(() => this.state)
      .finally(() => (this.probing = undefined));
    return this.known ? this.state : this.probing;
  }

  async end(): Promise<void> {
    await this.sql.end({ timeout: 2 });
  }

  private hung(sql: Sql): void {
    this.deps.metrics.deadlinesExceeded.inc({ server: this.server });
    if (this.sql === sql) {
      this.sql = this.connect();
      // Destroys its sockets at once; queries still waiting on them fail (and are already answered).
      void sql.end({ timeout: 0 }).catch(() => undefined);
    }
    this.mark('hung');
  }

  private mark(state: PgHealth, err?: unknown): void {
    this.known = true;
    this.deps.metrics.postgresUp.set({ server: this.server }, state === 'up' ? 1 : 0);
    this.deps.metrics.postgresHung.set({ server: this.server }, state === 'hung' ? 1 : 0);
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    const context = { server: this.server, previous, ...(err ? { err: (err as Error).message } : {}) };
    if (state === 'up') this.deps.log.info(context, `postgres ${this.server} answers again`);
    else if (state === 'hung')
      this.deps.log.warn(
        { ...context, deadlineMs: this.deadlineMs },
        `postgres ${this.server} hangs: no answer within the deadline`,
      );
    else this.deps.log.warn(context, `postgres ${this.server} unreachable`);
  }
}
