import type { EnvelopeId } from '../../shared';
import { uuidV7Time, type Sql } from './store';

/**
 * Daily partitions of `messages` (infra/migrations/002_partition_messages.sql): partition keys are
 * envelope ids, whose UUIDv7 prefix is their time, so a UTC day is a range of ids. The SQL functions
 * of that migration do the work; these are their typed callers, shared by the nodes and
 * `npm run migrate`.
 */

const DAY_MS = 86_400_000;

/** Days the nodes and `npm run migrate` keep created ahead of today (and one behind). */
export const PARTITIONS_AHEAD_DAYS = 2;

/** A UTC day as `YYYY-MM-DD`, `offsetDays` from the day of `ms`. */
export function utcDay(ms: number, offsetDays = 0): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS + offsetDays * DAY_MS).toISOString().slice(0, 10);
}

/** The smallest UUIDv7-shaped id of millisecond `ms`: every id accepted at `ms` or later is >= it. */
export function idFloor(ms: number): EnvelopeId {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000` as EnvelopeId;
}

/** Creates the missing daily partitions from `firstDay` to `lastDay` (inclusive); returns how many. */
export async function ensurePartitions(sql: Sql, firstDay: string, lastDay: string): Promise<number> {
  const [row] = await sql<{ created: number }[]>`
    SELECT messages_ensure_partitions(${firstDay}::date, ${lastDay}::date) AS created`;
  return row?.created ?? 0;
}

/** Creates yesterday's, today's and PARTITIONS_AHEAD_DAYS days' partitions when missing. */
export function ensurePartitionsAround(sql: Sql, now = Date.now()): Promise<number> {
  return ensurePartitions(sql, utcDay(now, -1), utcDay(now, PARTITIONS_AHEAD_DAYS));
}

/**
 * The retention horizon: history older than this many days (an id whose time is before it) is never
 * answered, and the partitions wholly before it are dropped.
 */
export function retentionHorizonMs(retentionDays: number, now = Date.now()): number {
  return now - retentionDays * DAY_MS;
}

/** Drops the partitions whose whole day is older than the retention horizon; returns their names. */
export async function dropExpiredPartitions(
  sql: Sql,
  retentionDays: number,
  now = Date.now(),
): Promise<string[]> {
  const cutoff = utcDay(retentionHorizonMs(retentionDays, now));
  const rows = await sql<{ name: string }[]>`
    SELECT messages_drop_partitions_before(${cutoff}::date) AS name`;
  return rows.map((row) => row.name);
}

/** Whether a refusal is "no partition holds this row" (Postgres' check_violation on routing). */
export function isNoPartitionError(err: unknown): boolean {
  return (
    (err as { code?: unknown }).code === '23514' && /no partition of relation/.test((err as Error).message)
  );
}

/** How far back the writer creates a missing partition on demand for a row (a client-chosen id). */
const ON_DEMAND_BACK_DAYS = 7;

/**
 * The days of `ids` the writer may create a partition for on demand: from a week back (never before
 * the retention horizon) to tomorrow. A row outside it is refused (and set aside): an id far in the
 * past or future would otherwise make a partition per day it names.
 */
export function onDemandDays(
  ids: readonly string[],
  retentionDays: number | undefined,
  now = Date.now(),
): string[] {
  let first = utcDay(now, -ON_DEMAND_BACK_DAYS);
  if (retentionDays !== undefined) {
    const horizon = utcDay(retentionHorizonMs(retentionDays, now));
    if (horizon > first) first = horizon;
  }
  const last = utcDay(now, 1);
  const days = new Set<string>();
  for (const id of ids) {
    const day = utcDay(uuidV7Time(id));
    if (day >= first && day <= last) days.add(day);
  }
  return [...days].sort();
}
