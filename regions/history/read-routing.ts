import { ProtocolError } from '../../shared';
import type { Logger } from '../log';
import type { HistoryMetrics, ReadSource } from './metrics';
import { isUnavailableError, type Sql } from './store';

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

type ReplicaState = 'fresh' | 'behind' | 'down';

/**
 * Sends history reads to the region's streaming replica while it is up and at most `maxLagBytes`
 * behind the primary (measured at most every FRESHNESS_CACHE_MS), otherwise to the primary. With the
 * primary down, a reachable replica serves whatever it has. Both down: `unavailable`.
 */
export class ReadRouting {
  private checked: { at: number; state: ReplicaState } | undefined;
  private checking: Promise<ReplicaState> | undefined;

  constructor(
    private readonly primary: Sql,
    private readonly replica: Sql | undefined,
    private readonly maxLagBytes: number,
    private readonly deps: { metrics: HistoryMetrics; log: Logger },
  ) {}

  /** Runs `query` on the replica when it is fresh, else on the primary; counts who answered. */
  async run<T>(kind: string, query: (sql: Sql) => Promise<T>): Promise<T> {
    if (this.replica && (await this.replicaState()) === 'fresh') {
      try {
        return await this.answered('replica', kind, await query(this.replica));
      } catch (err) {
        if (!isUnavailableError(err)) throw err;
        this.checked = { at: Date.now(), state: 'down' };
        this.deps.metrics.postgresUp.set({ server: 'replica' }, 0);
      }
    }
    try {
      return await this.answered('primary', kind, await query(this.primary));
    } catch (err) {
      if (!isUnavailableError(err)) throw err;
      this.deps.metrics.postgresUp.set({ server: 'primary' }, 0);
      throw new ProtocolError('unavailable', 'history is unavailable right now; retry later');
    }
  }

  /** The replica as reads see it: `up` (fresh), `behind` or `down`. */
  async replicaStatus(): Promise<string> {
    const state = await this.replicaState();
    return state === 'fresh' ? 'up' : state;
  }

  private answered<T>(source: ReadSource, kind: string, result: T): T {
    this.deps.metrics.reads.inc({ source, kind });
    this.deps.metrics.postgresUp.set({ server: source }, 1);
    return result;
  }

  private async replicaState(): Promise<ReplicaState> {
    if (this.checked && Date.now() - this.checked.at < FRESHNESS_CACHE_MS) return this.checked.state;
    this.checking ??= this.measure().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async measure(): Promise<ReplicaState> {
    const [replica, primary] = await Promise.all([
      this.replica!`SELECT pg_last_wal_replay_lsn()::text AS lsn`.then(
        (rows) => rows[0]?.lsn as string | null,
        () => undefined,
      ),
      this.primary`SELECT pg_current_wal_lsn()::text AS lsn`.then(
        (rows) => rows[0]?.lsn as string,
        () => undefined,
      ),
    ]);
    const { metrics } = this.deps;
    metrics.postgresUp.set({ server: 'replica' }, replica === undefined ? 0 : 1);
    metrics.postgresUp.set({ server: 'primary' }, primary === undefined ? 0 : 1);
    let state: ReplicaState;
    if (replica === undefined || replica === null) state = 'down';
    else if (primary === undefined)
      state = 'fresh'; // the primary is down: the replica is all there is
    else {
      const lag = replicaLagBytes(primary, replica);
      metrics.replicaLagBytes.set(Number(lag));
      state = lag <= BigInt(this.maxLagBytes) ? 'fresh' : 'behind';
    }
    if (state !== this.checked?.state) this.deps.log.info({ replica: state }, 'history read replica state');
    this.checked = { at: Date.now(), state };
    return state;
  }
}
