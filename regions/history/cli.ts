/**
 * `npm run history -- dead-letters [--replay]`: lists the envelopes a region's history writer set
 * aside because Postgres refused them, and writes them again once the cause is fixed.
 */
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { createRedisClient, parseRedisTarget, type RedisClient, type RedisTarget } from '../redis';
import { listDeadLetters, removeDeadLetters, type DeadLetter } from './dead-letters';
import { insertEnvelopes, isUnavailableError } from './store';

const USAGE = `Usage: npm run history -- dead-letters [--replay] [--limit N]

Lists the envelopes this region's history writer set aside because Postgres refused them (the
dead-letter stream in the regional Redis), oldest first, with the refusal.

  --replay    write each one to Postgres again (ON CONFLICT DO NOTHING, so a stored one is skipped);
              each one written is removed from the stream, each one refused again stays there
  --limit N   handle at most N dead letters (default: all)
  --help      this text

Environment:
  REDIS_URL      the region's Redis (redis://host:port, or redis+cluster://host:port,... )
  DATABASE_URL   the Postgres primary (needed with --replay)

Exit code: 0 when done (nothing left refused with --replay), 1 when some were refused again or a
server was unreachable, 2 for bad arguments or environment.
`;

const PAGE = 100;

interface Out {
  line(text: string): void;
  error(text: string): void;
}

const stdio: Out = {
  line: (text) => process.stdout.write(`${text}\n`),
  error: (text) => process.stderr.write(`${text}\n`),
};

function describe(letter: DeadLetter): string {
  let id = '?';
  let room = '?';
  try {
    const envelope = JSON.parse(letter.envelope) as { id?: string; room?: string };
    id = envelope.id ?? id;
    room = envelope.room ?? room;
  } catch {
    // shown as '?': the text is kept as it was
  }
  const at = Number.isFinite(letter.at) ? new Date(letter.at).toISOString() : '?';
  return `${letter.entry}  ${at}  id=${id} room=${room}  [${letter.code || 'no code'}] ${letter.error}`;
}

/** Runs the CLI; returns the exit code. */
export async function main(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  out: Out = stdio,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        replay: { type: 'boolean', default: false },
        limit: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    out.error(`history: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.line(USAGE);
    return 0;
  }
  if (positionals[0] !== 'dead-letters' || positionals.length > 1) {
    out.error(`history: unknown command ${positionals.join(' ') || '(none)'}\n\n${USAGE}`);
    return 2;
  }
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  if (!Number.isInteger(limit) && limit !== Infinity) {
    out.error('history: --limit must be a whole number');
    return 2;
  }
  for (const name of ['REDIS_URL', ...(values.replay ? ['DATABASE_URL'] : [])]) {
    if (!env[name]) {
      out.error(`config error: ${name}: is required`);
      return 2;
    }
  }
  let target: RedisTarget;
  try {
    target = parseRedisTarget(env.REDIS_URL!);
  } catch (err) {
    out.error(`config error: REDIS_URL: is invalid (${(err as Error).message})`);
    return 2;
  }
  // One server or a cluster (redis+cluster://), like the node; commands fail fast instead of queueing.
  const redis = createRedisClient(target, 'history-cli', {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: 5_000,
  });
  redis.on('error', () => undefined); // reported by the first command that fails, once
  const sql = values.replay
    ? postgres(env.DATABASE_URL!, {
        max: 1,
        connect_timeout: 5,
        target_session_attrs: 'read-write',
        onnotice: () => undefined,
        connection: { statement_timeout: 10_000 },
      })
    : undefined;
  try {
    await once(redis, 'ready', { signal: AbortSignal.timeout(5_000) }).catch(() => {
      throw new Error('the regional Redis did not answer within 5 s');
    });
    return await run(redis, sql, limit, out);
  } catch (err) {
    out.error(`history: failed: ${(err as Error).message}`);
    return 1;
  } finally {
    redis.disconnect();
    await sql?.end({ timeout: 5 });
  }
}

async function run(
  redis: RedisClient,
  sql: postgres.Sql | undefined,
  limit: number,
  out: Out,
): Promise<number> {
  let seen = 0;
  let replayed = 0;
  let refused = 0;
  let after = '-';
  while (seen < limit) {
    const page = await listDeadLetters(redis, Math.min(PAGE, limit - seen), after);
    if (page.length === 0) break;
    after = page[page.length - 1]!.entry;
    seen += page.length;
    if (!sql) {
      for (const letter of page) out.line(describe(letter));
      continue;
    }
    const written: string[] = [];
    for (const letter of page) {
      try {
        await insertEnvelopes(sql, [letter.envelope]);
        written.push(letter.entry);
        out.line(`replayed ${describe(letter)}`);
      } catch (err) {
        if (isUnavailableError(err)) throw err;
        refused++;
        out.line(`refused again ${letter.entry}: ${(err as Error).message}`);
      }
    }
    await removeDeadLetters(redis, written);
    replayed += written.length;
    out.line(`progress: ${seen} handled, ${replayed} replayed, ${refused} refused again`);
  }
  if (!sql) {
    out.line(
      `${seen} dead letter(s)${seen > 0 ? '; replay them with --replay once the cause is fixed' : ''}`,
    );
    return 0;
  }
  out.line(`done: ${replayed} replayed, ${refused} still refused (left in the stream)`);
  return refused > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
