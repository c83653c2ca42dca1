import { ProtocolError } from '../../shared';
import type { Logger } from '../log';
import type { HistoryMetrics, ReadSource } from './metrics';
import type { PgClient } from './pg-client';
import type { HistoryReads, HistoryStore } from './history-store';
import { PostgresHistoryStore, isUnavailableError, type Sql } from './store';

/** How long one replica freshness measurement is trusted. */
export const FRESHNESS_CACHE_MS = 1_000;

/** A WAL position `X/Y` (hex) as a byte offset. */
export function parseLsn(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  if (high === undefined || low === undefined) throw new Error(`not a WAL position: ${lsn}`);
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

/**
 * How far the replica is behind, in WAL bytes: the primary's current write position minus what the
 * replica has replayed. Comparing positions, not `now() - pg_last_xact_replay_timestamp()`, which
 * reports an idle primary as lag. Never negative.
 */
export function replicaLagBytes(primaryLsn: string, replicaReplayLsn: string): bigint {
  const lag = parseLsn(primaryLsn) - parseLsn(replicaReplayLsn);
  return lag > 0n ? lag : 0n;
}

/**
 * The replica as reads see it. `unverified`: it answers, but the primary cannot say how far behind
 * it is (the primary is down or hangs), so its answers may be stale.
 */
type ReplicaState = 'fresh' | 'unverified' | 'behind' | 'down' | 'hung';

/**
 * Sends history reads to the region's streaming replica while it is up and at most `maxLagBytes`
 * behind the primary (measured at most every FRESHNESS_CACHE_MS), otherwise to the primary. Every
 * query has the deadline of its `PgClient`, so a hung server costs one read at most that deadline:
 * a hung replica, then the primary answers; a hung (or down) primary, then the replica answers what
 * it has, counted in `rt_history_unverified_reads_total`. Both unusable: `unavailable`. A server known
 * to be unusable is re-measured in the background, never on a read's time.
 */
export class ReadRouting implements HistoryReads {
  private checked: { at: number; state: ReplicaState } | undefined;
  private checking: Promise<ReplicaState> | undefined;

  constructor(
    private readonly primary: PgClient,
    private readonly replica: PgClient | undefined,
    private readonly maxLagBytes: number,
    private readonly deps: { metrics: HistoryMetrics; log: Logger },
  ) {}

  /** Runs `query` on the history store of the server `run` picks. */
  read<T>(kind: string, query: (store: HistoryStore) => Promise<T>): Promise<T> {
    return this.run(kind, (sql) => query(new PostgresHistoryStore(sql)));
  }

  /** Runs `query` on the replica when it is fresh, else on the primary; counts who answered. */
  async run<T>(kind: string, query: (sql: Sql) => Promise<T>): Promise<T> {
    const state = this.replica ? await this.replicaState() : 'down';
    if (state === 'fresh' || state === 'unverified') {
      const answer = await this.fromReplica(kind, query, state === 'unverified');
      if (answer) return answer.result;
    }
    try {
      return this.answered('primary', kind, await this.primary.query(query));
    } catch (err) {
      if (!isUnavailableError(err)) throw err;
    }
    // The primary failed us too: a replica that is merely behind is better than nothing.
    if (state === 'behind') {
      const answer = await this.fromReplica(kind, query, true);
      if (answer) return answer.result;
    }
    throw new ProtocolError('unavailable', 'history is unavailable right now; retry later');
  }

  /** The replica for `/readyz`: `up` (fresh), `unverified`, `behind`, `down` or `hung`. */
  async replicaStatus(): Promise<string> {
    let state: ReplicaState;
    if (this.checked) {
      state = this.checked.state;
      void this.replicaState(); // renewed in the background when stale: /readyz never waits on it
    } else state = await this.replicaState();
    return state === 'fresh' ? 'up' : state;
  }

  private async fromReplica<T>(
    kind: string,
    query: (sql: Sql) => Promise<T>,
    unverified: boolean,
  ): Promise<{ result: T } | undefined> {
    try {
      const result = await this.replica!.query(query);
      if (unverified) this.deps.metrics.unverifiedReads.inc({ kind });
      return { result: this.answered('replica', kind, result) };
    } catch (err) {
      if (!isUnavailableError(err)) throw err;
      this.settle(this.replica!.health === 'hung' ? 'hung' : 'down');
      return undefined;
    }
  }

  private answered<T>(source: ReadSource, kind: string, result: T): T {
    this.deps.metrics.reads.inc({ source, kind });
    return result;
  }

  /**
   * The replica's state for a read. A fresh measurement is reused; a stale one is renewed, and the
   * read waits for that only when the replica was fresh (the renewal then bounded by the deadline).
   */
  private async replicaState(): Promise<ReplicaState> {
    const last = this.checked;
    if (last && Date.now() - last.at < FRESHNESS_CACHE_MS) return last.state;
    this.checking ??= this.measure().finally(() => (this.checking = undefined));
    if (last && last.state !== 'fresh') return last.state;
    return this.checking;
  }

  private async measure(): Promise<ReplicaState> {
    const replicaLsn = this.replica!.query((sql) => sql`SELECT pg_last_wal_replay_lsn()::text AS lsn`).then(
      (rows) => (rows[0]?.lsn as string | null) ?? null,
      () => undefined,
    );
    const primaryLsn = this.primary
      .query((sql) => sql`SELECT pg_current_wal_lsn()::text AS lsn`)
      .then(
        (rows) => rows[0]?.lsn as string,
        () => undefined,
      );
    // A primary known to be unusable is asked in the background only: it must not delay the read.
    const [replica, primary] = await Promise.all([
      replicaLsn,
      this.primary.health === 'up' ? primaryLsn : undefined,
    ]);
    let state: ReplicaState;
    if (replica === undefined) state = this.replica!.health === 'hung' ? 'hung' : 'down';
    else if (replica === null)
      state = 'down'; // not a standby (promoted): the primary client covers it
    else if (primary === undefined) state = 'unverified';
    else {
      const lag = replicaLagBytes(primary, replica);
      this.deps.metrics.replicaLagBytes.set(Number(lag));
      state = lag <= BigInt(this.maxLagBytes) ? 'fresh' : 'behind';
    }
    this.settle(state);
    return state;
  }

  private settle(state: ReplicaState): void {
    if (state !== this.checked?.state) {
      const note =
        state === 'unverified'
          ? 'history read replica answers while the primary cannot be asked: reads may be stale'
          : 'history read replica state';
      this.deps.log[state === 'fresh' ? 'info' : 'warn']({ replica: state }, note);
    }
    this.checked = { at: Date.now(), state };
  }
}
