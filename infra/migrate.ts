/**
 * `npm run migrate`: applies the SQL migrations in infra/migrations/ to `DATABASE_URL`.
 *
 * Migrations are files named `NNN_description.sql`, applied in order of their number. What was
 * applied is recorded in `schema_migrations`, so a second run applies nothing. Everything missing is
 * applied in one transaction under an advisory lock: concurrent runs wait for each other, and a failed
 * migration leaves the database as it was.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import postgres from 'postgres';
import { dropExpiredPartitions, ensurePartitionsAround } from '../regions/history/partitions';

/** The folder holding the numbered `.sql` files. */
export const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');

/** Arbitrary constant key of the advisory lock that serializes migration runs. */
const MIGRATION_LOCK_KEY = 7_301_942;

export interface Migration {
  /** The file name, which is also its key in `schema_migrations`. */
  name: string;
  version: number;
  sql: string;
}

export interface MigrateOptions {
  dir?: string;
  /** Progress lines ("applying 001_messages.sql"); silent by default. */
  log?: (line: string) => void;
  /** HISTORY_RETENTION_DAYS: after migrating, drop the partitions wholly older than this. */
  retentionDays?: number | undefined;
  /** The clock for partitions and retention (tests); default now. */
  now?: number;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
  /** Daily partitions of `messages` created ahead. */
  partitionsCreated: number;
  /** Partitions dropped by retention. */
  partitionsDropped: string[];
}

/** Reads the migration files of `dir`, ordered by their number; throws on a malformed or duplicate name. */
export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql'));
  const migrations: Migration[] = [];
  for (const name of files) {
    const match = /^(\d+)_[A-Za-z0-9_-]+\.sql$/.exec(name);
    if (!match) throw new Error(`migration file ${name} must be named NNN_description.sql`);
    migrations.push({ name, version: Number(match[1]), sql: await readFile(join(dir, name), 'utf8') });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new Error(`two migrations have number ${migrations[i]!.version}`);
    }
  }
  return migrations;
}

/** Applies every migration of `options.dir` not yet recorded in `schema_migrations` of `url`. */
export async function migrate(url: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => undefined);
  const migrations = await loadMigrations(options.dir);
  // With several hosts in the URL (as the nodes' DATABASE_URL may list), the one that takes writes.
  const sql = postgres(url, {
    max: 1,
    connect_timeout: 10,
    onnotice: () => undefined,
    target_session_attrs: 'read-write',
  });
  try {
    const { applied, alreadyApplied } = await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
      await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
        name text PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
      const done = new Set((await tx`SELECT name FROM schema_migrations`).map((r) => String(r.name)));
      const applied: string[] = [];
      for (const migration of migrations) {
        if (done.has(migration.name)) continue;
        log(`applying ${migration.name}`);
        await tx.unsafe(migration.sql);
        await tx`INSERT INTO schema_migrations (name) VALUES (${migration.name})`;
        applied.push(migration.name);
      }
      log(
        applied.length === 0
          ? `up to date (${done.size} migrations applied before)`
          : `applied ${applied.length} migration(s); ${done.size} were applied before`,
      );
      return { applied, alreadyApplied: done.size };
    });
    const partitioned = await isPartitioned(sql);
    const partitionsCreated = partitioned ? await ensurePartitionsAround(sql, options.now) : 0;
    if (partitionsCreated > 0) log(`created ${partitionsCreated} daily partition(s) of messages ahead`);
    const partitionsDropped =
      partitioned && options.retentionDays !== undefined
        ? await dropExpiredPartitions(sql, options.retentionDays, options.now)
        : [];
    if (options.retentionDays !== undefined) {
      log(
        `retention ${options.retentionDays} day(s): dropped ${partitionsDropped.length} partition(s)` +
          (partitionsDropped.length > 0 ? ` (${partitionsDropped.join(', ')})` : ''),
      );
    }
    return { applied, alreadyApplied, partitionsCreated, partitionsDropped };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Whether `messages` is the partitioned table of migration 002 (a custom migration folder may lack it). */
async function isPartitioned(sql: postgres.Sql): Promise<boolean> {
  const [row] = await sql`SELECT EXISTS (
    SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('messages')) AS partitioned`;
  return row?.partitioned === true;
}

const USAGE = `Usage: npm run migrate [-- --help]

Applies the SQL migrations in infra/migrations/ (NNN_description.sql, in order) to the database at
DATABASE_URL. Idempotent: what is recorded in schema_migrations is skipped; everything missing is
applied in one transaction.

Then creates the daily partitions of messages up to two days ahead, and with
HISTORY_RETENTION_DAYS drops the partitions whose whole day is older than that (run it daily, e.g.
from cron; the region nodes do the same every hour).

Environment:
  DATABASE_URL             postgres://user:password@host:port/database (the primary)
  HISTORY_RETENTION_DAYS   optional: days of history kept (a positive whole number); unset keeps all
`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const url = process.env.DATABASE_URL;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    process.stderr.write(
      `config error: DATABASE_URL: ${url ? 'must be a postgres:// URL' : 'is required'}\n`,
    );
    return 2;
  }
  const retention = process.env.HISTORY_RETENTION_DAYS;
  const retentionDays = retention === undefined || retention === '' ? undefined : Number(retention);
  if (retentionDays !== undefined && !(Number.isInteger(retentionDays) && retentionDays > 0)) {
    process.stderr.write('config error: HISTORY_RETENTION_DAYS: must be a positive whole number\n');
    return 2;
  }
  try {
    await migrate(url, { retentionDays, log: (line) => process.stdout.write(`migrate: ${line}\n`) });
    return 0;
  } catch (err) {
    process.stderr.write(`migrate: failed: ${(err as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
