import { join } from 'node:path';
import { startServerProcess, type ServerProcess } from '../processes/child';
import { freePort } from '../processes/ports';

const ROOT = join(import.meta.dirname, '..', '..');

/** The region node program, as operators run it (`npm run region`). */
export const REGION_NODE_PROGRAM = join(ROOT, 'regions', 'main.ts');

/** Region nodes need a DATABASE_URL; worlds without Postgres give one that is never dialled. */
export const UNUSED_DATABASE_URL = 'postgres://u:p@127.0.0.1:1/unused';

/** Where a node keeps its state: the stores of its region (DESIGN.md §3, region node environment). */
export interface NodeStores {
  /** The regional Redis (`REDIS_URL`). */
  redisUrl: string;
  globalRedisUrl?: string;
  databaseUrl?: string;
  databaseReplicaUrl?: string;
  /** `BUS_PEERS`: every other region's Redis, as this region reaches it. */
  busPeers?: string;
}

export interface NodeIdentity {
  region: string;
  id: string;
  port: number;
  jwtSecret: string;
}

/**
 * The one place a node's environment is made: this process's environment, the node's identity,
 * its stores, then `settings` (limits, LOG_LEVEL, EDGE_SECRET, ...), which win.
 */
export function nodeEnvironment(
  identity: NodeIdentity,
  stores: NodeStores,
  settings: Record<string, string> = {},
): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    REGION: identity.region,
    NODE_ID: identity.id,
    PORT: String(identity.port),
    HOST: '127.0.0.1',
    JWT_SECRET: identity.jwtSecret,
    REDIS_URL: stores.redisUrl,
    ...(stores.globalRedisUrl ? { GLOBAL_REDIS_URL: stores.globalRedisUrl } : {}),
    DATABASE_URL: stores.databaseUrl ?? UNUSED_DATABASE_URL,
    ...(stores.databaseReplicaUrl ? { DATABASE_REPLICA_URL: stores.databaseReplicaUrl } : {}),
    ...(stores.busPeers ? { BUS_PEERS: stores.busPeers } : {}),
    ...settings,
  };
}

/**
 * The one readiness wait: until `GET {url}/readyz` answers 200. Fails at once, with the end of the
 * node's output, if the process exits first, and after `timeoutMs` otherwise.
 */
export async function waitUntilReady(
  url: string,
  proc: ServerProcess,
  name: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null)
      throw new Error(`node ${name} exited (${proc.child.exitCode}): ${proc.output().slice(-1500)}`);
    try {
      if ((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) })).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`node ${name} at ${url} not ready after ${timeoutMs} ms: ${proc.output().slice(-1500)}`);
}

/** A node process (a region node, or a bench peer) on loopback; `restart` replaces its process. */
export interface LocalNode {
  readonly id: string;
  readonly region: string;
  readonly url: string;
  readonly port: number;
  /** The current process's pid (a restart changes it). */
  readonly pid: number;
  readonly proc: ServerProcess;
  /** SIGTERM (the node drains), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts a new process with the same id, port, environment and log, and waits until it is ready. */
  restart(): Promise<void>;
}

export interface StartNodeOptions {
  region: string;
  id: string;
  jwtSecret: string;
  stores: NodeStores;
  settings?: Record<string, string>;
  /** Default: a free port. */
  port?: number;
  /** Default: the region node (`regions/main.ts`). */
  program?: string;
  /** Node.js flags (after tsx's loader, before the program; e.g. `--expose-gc`). */
  nodeArgs?: string[];
  logFile?: string;
  readyTimeoutMs?: number;
  /** Hears every process started for this node (the first and each restart's). */
  onLaunch?: (proc: ServerProcess) => void;
}

/** Starts a node process and resolves once it is ready. */
export async function startNode(options: StartNodeOptions): Promise<LocalNode> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const env = nodeEnvironment(
    { region: options.region, id: options.id, port, jwtSecret: options.jwtSecret },
    options.stores,
    options.settings,
  );
  const args = ['--import', 'tsx', ...(options.nodeArgs ?? []), options.program ?? REGION_NODE_PROGRAM];
  let proc!: ServerProcess;
  const launch = async () => {
    proc = startServerProcess(process.execPath, args, {
      cwd: ROOT,
      env,
      ...(options.logFile ? { logFile: options.logFile } : {}),
    });
    options.onLaunch?.(proc);
    try {
      await waitUntilReady(url, proc, options.id, options.readyTimeoutMs);
    } catch (err) {
      await proc.kill();
      throw err;
    }
  };
  await launch();
  return {
    id: options.id,
    region: options.region,
    url,
    port,
    get pid() {
      return proc.pid;
    },
    get proc() {
      return proc;
    },
    stop: (graceMs = 15_000) => proc.stop(graceMs),
    kill: () => proc.kill(),
    restart: launch,
  };
}
