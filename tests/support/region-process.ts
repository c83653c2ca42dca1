import { join } from 'node:path';
import { startServerProcess, type ServerProcess } from '../../harness/processes/child';
import { freePort } from '../../harness/processes/ports';
import { TEST_JWT_SECRET } from './tokens';

const ROOT = join(import.meta.dirname, '..', '..');

export interface RegionProcessOptions {
  region: string;
  nodeId: string;
  redisUrl: string;
  globalRedisUrl: string;
  databaseUrl: string;
  databaseReplicaUrl?: string;
  port?: number;
  /** Extra environment (limits, EDGE_SECRET, ...). */
  env?: Record<string, string>;
  /** Extra Node.js flags (after tsx's loader, before the program; e.g. `--expose-gc`). */
  nodeArgs?: string[];
}

/** A region node running as its own process (`regions/main.ts`), as operators run it. */
export interface RegionProcess {
  readonly nodeId: string;
  readonly region: string;
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly proc: ServerProcess;
  stop(): Promise<void>;
  kill(): Promise<void>;
  /** Starts the node again with the same settings (after stop or kill). */
  restart(): Promise<void>;
}

export async function startRegionProcess(options: RegionProcessOptions): Promise<RegionProcess> {
  const port = options.port ?? (await freePort());
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    REGION: options.region,
    NODE_ID: options.nodeId,
    PORT: String(port),
    HOST: '127.0.0.1',
    REDIS_URL: options.redisUrl,
    GLOBAL_REDIS_URL: options.globalRedisUrl,
    DATABASE_URL: options.databaseUrl,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'info',
    ...(options.databaseReplicaUrl ? { DATABASE_REPLICA_URL: options.databaseReplicaUrl } : {}),
    ...options.env,
  };
  let proc!: ServerProcess;
  const launch = async () => {
    const args = ['--import', 'tsx', ...(options.nodeArgs ?? []), join(ROOT, 'regions', 'main.ts')];
    proc = startServerProcess(process.execPath, args, {
      env,
      cwd: ROOT,
    });
    await waitHealthy(`http://127.0.0.1:${port}`, proc);
  };
  await launch();
  return {
    nodeId: options.nodeId,
    region: options.region,
    url: `http://127.0.0.1:${port}`,
    port,
    get pid() {
      return proc.pid;
    },
    get proc() {
      return proc;
    },
    stop: () => proc.stop(15_000),
    kill: () => proc.kill(),
    restart: launch,
  };
}

async function waitHealthy(url: string, proc: ServerProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) {
      throw new Error(`region node exited with ${proc.child.exitCode}: ${proc.output().slice(-1500)}`);
    }
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`region node at ${url} not ready after ${timeoutMs} ms: ${proc.output().slice(-1500)}`);
}
