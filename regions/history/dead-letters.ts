import type { RedisClient } from '../redis';
import postgres from 'postgres';
import { keys } from '../keyspace';

/**
 * Envelopes Postgres refused, set aside by the history writer so the rest of the region's history
 * keeps flowing. A stream in the regional Redis, capped at `maxLen` entries (the oldest go first).
 */
export const DEAD_LETTER_STREAM = keys.historyDeadLetters();

/** Default cap of the dead-letter stream (`HISTORY_DEAD_LETTER_MAXLEN`). */
export const DEAD_LETTER_MAXLEN_DEFAULT = 10_000;

/** One set-aside envelope, as listed and replayed. */
export interface DeadLetter {
  /** The dead-letter stream entry id. */
  entry: string;
  /** The outbox entry it came from. */
  outboxEntry: string;
  /** The envelope exactly as it was in the outbox (JSON text). */
  envelope: string;
  /** SQLSTATE of the refusal ('' when Postgres gave none). */
  code: string;
  error: string;
  /** When it was set aside (ms since the epoch). */
  at: number;
}

/** A row the writer holds: its outbox entry and the envelope's exact JSON text. */
export interface OutboxRow {
  outboxEntry: string;
  json: string;
  id: string;
  room: string;
  ts: number;
}

/** Appends a refused row with its error; the stream is capped (approximately) at `maxLen`. */
export async function setAside(
  redis: RedisClient,
  row: OutboxRow,
  err: unknown,
  maxLen: number,
): Promise<void> {
  await redis.xadd(
    DEAD_LETTER_STREAM,
    'MAXLEN',
    '~',
    maxLen,
    '*',
    'outbox',
    row.outboxEntry,
    'e',
    row.json,
    'code',
    err instanceof postgres.PostgresError ? err.code : '',
    'error',
    (err as Error).message,
    'at',
    Date.now(),
  );
}

/** Up to `count` dead letters, oldest first, starting after `after` (an entry id, exclusive). */
export async function listDeadLetters(redis: RedisClient, count: number, after = '-'): Promise<DeadLetter[]> {
  const start = after === '-' ? '-' : `(${after}`;
  const entries = (await redis.xrange(DEAD_LETTER_STREAM, start, '+', 'COUNT', count)) as [
    string,
    string[],
  ][];
  return entries.map(([entry, fields]) => {
    const field = (name: string) => {
      const index = fields.indexOf(name);
      return index >= 0 ? (fields[index + 1] ?? '') : '';
    };
    return {
      entry,
      outboxEntry: field('outbox'),
      envelope: field('e'),
      code: field('code'),
      error: field('error'),
      at: Number(field('at')),
    };
  });
}

/** Removes replayed dead letters. */
export async function removeDeadLetters(redis: RedisClient, entries: readonly string[]): Promise<void> {
  if (entries.length > 0) await redis.xdel(DEAD_LETTER_STREAM, ...entries);
}
