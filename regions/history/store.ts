import postgres from 'postgres';
import { envelopeJson, type EnvelopeId } from '../../shared';
import type { HistoryCursor, HistoryStore, StoredRead } from './history-store';
import { AnswerBudget, storedEnvelope, type StoredEnvelope } from './stored';

/** A postgres.js client (primary or replica). */
export type Sql = postgres.Sql;

/** A row as reads select it: `data` as its stored JSON text (`data::text`), never parsed here. */
interface MessageRow {
  id: EnvelopeId;
  room: string;
  data: string;
  user: string;
  origin: string;
  ts: string;
}

function toStored(row: MessageRow): StoredEnvelope {
  const head = { id: row.id, room: row.room, user: row.user, origin: row.origin, ts: Number(row.ts) };
  // Measured by its parts: measuring the joined text would first copy all of it into one new string
  // (64 KiB per worst-case row, garbage on the node's heap), which the answer's join copies again.
  const bytes = Buffer.byteLength(envelopeJson(head, '')) + Buffer.byteLength(row.data);
  return storedEnvelope(head, envelopeJson(head, row.data), bytes);
}

/** Rows fetched per round trip while a read fills its byte budget. */
const READ_BATCH_ROWS = 25;

/**
 * Runs a read ordered newest first, keeping rows while they fit in `maxAnswerBytes` (see
 * `AnswerBudget`): rows are fetched in batches and the query stops at the first row that does not
 * fit, so Postgres neither converts nor sends what the answer could not hold. Oldest first.
 */
async function newestFitting(
  sql: Sql,
  query: postgres.PendingQuery<MessageRow[]>,
  maxAnswerBytes: number,
): Promise<StoredRead> {
  const budget = new AnswerBudget(maxAnswerBytes);
  const envelopes: StoredEnvelope[] = [];
  let cut = false;
  await query.cursor(READ_BATCH_ROWS, (rows) => {
    if (cut) return sql.CLOSE;
    for (const row of rows) {
      const stored = toStored(row);
      if (!budget.take(stored)) {
        cut = true;
        return sql.CLOSE;
      }
      envelopes.push(stored);
    }
    return undefined;
  });
  return { envelopes: envelopes.reverse(), cut };
}

/** Milliseconds since the epoch encoded in a UUIDv7 (its first 48 bits). */
export function uuidV7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/**
 * Inserts envelopes, given as their exact JSON text, in one statement; ids already stored are skipped
 * (`ON CONFLICT (id) DO NOTHING`), so a batch retried after an unknown outcome writes nothing twice.
 * The text goes to Postgres as one `json` array: `json_array_elements` and `->` hand each envelope
 * and its `data` on as slices of that text, and the `json` column keeps them as they are, so a row
 * holds `data` exactly as it was published (spacing, key order, number spelling, escapes), `null`
 * stays JSON `null` (not SQL NULL) and no JavaScript object is rebuilt on the way (a `__proto__` key
 * stays a key). The other fields are read in one pass per envelope (`json_to_record`). The
 * parameter is sent as text: typed json, postgres.js would JSON-encode the string a second time.
 * Returns the rows inserted.
 */
export async function insertEnvelopes(sql: Sql, envelopesJson: readonly string[]): Promise<number> {
  if (envelopesJson.length === 0) return 0;
  const result = await sql`
    INSERT INTO messages (id, room, data, "user", origin, ts)
    SELECT h.id, h.room, e->'data', h."user", h.origin, h.ts
    FROM json_array_elements(${`[${envelopesJson.join(',')}]`}::text::json) AS e,
      json_to_record(e) AS h(id uuid, room text, "user" text, origin text, ts bigint)
    ON CONFLICT (id) DO NOTHING`;
  return result.count;
}

/** The stored position of envelope `id`, or undefined when it is not (yet) in this database. */
export async function findCursor(sql: Sql, id: EnvelopeId): Promise<HistoryCursor | undefined> {
  const rows = await sql<{ ts: string }[]>`SELECT ts FROM messages WHERE id = ${id}::uuid`;
  const row = rows[0];
  return row ? { ts: Number(row.ts), id } : undefined;
}

/** A cursor for an id this database does not hold: its UUIDv7 time. */
export function cursorFromId(id: EnvelopeId): HistoryCursor {
  return { ts: uuidV7Time(id), id };
}

/**
 * Up to `limit` envelopes of `room` before `before` (newest page first), returned oldest first: the
 * newest of them that fit in `maxAnswerBytes`. Keyset pagination on `(ts, id)`; an id this database
 * does not hold is placed by its UUIDv7 time.
 */
export function pageBefore(
  sql: Sql,
  room: string,
  before: EnvelopeId | undefined,
  limit: number,
  floor?: EnvelopeId,
  maxAnswerBytes = Infinity,
): Promise<StoredRead> {
  const retained = retainedFrom(sql, floor);
  const query = before
    ? sql<MessageRow[]>`
        SELECT id, room, data::text AS data, "user", origin, ts FROM messages
        WHERE room = ${room} ${retained}
          AND (ts, id) < (
            COALESCE((SELECT ts FROM messages WHERE id = ${before}::uuid), ${uuidV7Time(before)}::bigint),
            ${before}::uuid
          )
        ORDER BY ts DESC, id DESC
        LIMIT ${limit}`
    : sql<MessageRow[]>`
        SELECT id, room, data::text AS data, "user", origin, ts FROM messages
        WHERE room = ${room} ${retained}
        ORDER BY ts DESC, id DESC
        LIMIT ${limit}`;
  return newestFitting(sql, query, maxAnswerBytes);
}

/**
 * `AND id >= floor`: what retention removed (or is about to remove) is never answered, and the
 * planner skips the partitions wholly before the floor.
 */
function retainedFrom(sql: Sql, floor: EnvelopeId | undefined) {
  return floor ? sql`AND id >= ${floor}::uuid` : sql``;
}

/**
 * The newest `limit` envelopes of `room` after `cursor` (see `isAfterCursor`) that fit in
 * `maxAnswerBytes`, oldest first. `reorderWindowMs` also admits envelopes accepted shortly before the
 * cursor, which another node or region may have delivered after it (see `RECOVERY_REORDER_WINDOW_MS`).
 */
export function missedAfter(
  sql: Sql,
  room: string,
  cursor: HistoryCursor,
  reorderWindowMs: number,
  limit: number,
  floor?: EnvelopeId,
  maxAnswerBytes = Infinity,
): Promise<StoredRead> {
  const query = sql<MessageRow[]>`
    SELECT id, room, data::text AS data, "user", origin, ts FROM messages
    WHERE room = ${room} ${retainedFrom(sql, floor)}
      AND ts >= ${cursor.ts - reorderWindowMs}::bigint
      AND id <> ${cursor.id}::uuid
    ORDER BY ts DESC, id DESC
    LIMIT ${limit}`;
  return newestFitting(sql, query, maxAnswerBytes);
}

/**
 * Whether an error means Postgres cannot take any write right now, so waiting and retrying is right:
 * no answer at all (connection refused, reset, timed out: not a PostgresError), SQLSTATE classes 08
 * (connection), 53 (insufficient resources), 57 (operator intervention: shutdown, statement timeout),
 * 58 (system error), 40 (serialization failure, deadlock), 25006 (a read-only server: a standby, as
 * during a failover), and classes that say the database is not set up for us (28 authorization,
 * 3D/3F missing database or schema, 42 missing table or privilege), which an operator fixes for every
 * row at once. Anything else is Postgres refusing this statement's rows.
 */
export function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof postgres.PostgresError)) return true;
  return /^(08|53|57|58|40|28|3D|3F|42)/.test(err.code) || err.code === '25006';
}

/** The history store on one Postgres server (the writer's primary, or the server a read was routed to). */
export class PostgresHistoryStore implements HistoryStore {
  constructor(private readonly sql: Sql) {}

  insert: HistoryStore['insert'] = (envelopesJson) => insertEnvelopes(this.sql, envelopesJson);
  findCursor: HistoryStore['findCursor'] = (id) => findCursor(this.sql, id);
  pageBefore: HistoryStore['pageBefore'] = (...query) => pageBefore(this.sql, ...query);
  missedAfter: HistoryStore['missedAfter'] = (...query) => missedAfter(this.sql, ...query);
}
