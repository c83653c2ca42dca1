import { execFile } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { Log, LogLevel, Miniflare } from 'miniflare';
import type { Region } from '../../shared/regions';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

/**
 * Request properties for a caller who did not say where they are. Miniflare needs an explicit `cf`
 * (left unset it downloads one from the internet); it has no location, so routing uses its default.
 * A real client can set its own per connection with header `MF-CF-Blob: {json}`.
 */
export const LOCAL_CF = { colo: 'LCL', country: 'XX', httpProtocol: 'HTTP/1.1', clientTcpRtt: 0 };

export interface EdgeRuntimeOptions {
  /** 0 or unset: a free port. */
  port?: number;
  host?: string;
  regions: Region[];
  sim?: boolean;
  jwtSecret?: string;
  edgeSecret?: string;
  upstash?: { url: string; token: string };
  /** Other vars (CORS_ORIGINS, HEALTH_CACHE_MS, DIRECT_TO_NODES). */
  vars?: Record<string, string>;
  /** `request.cf` for requests without MF-CF-Blob. */
  cf?: Record<string, unknown>;
  /** A bundle already built with `buildEdgeBundle` (skips the build). */
  bundleDir?: string;
  /** Where the Worker's console output goes (default: kept in memory only). */
  logFile?: string;
}

/** The edge Worker running in workerd, from the bundle `wrangler deploy` would upload. */
export interface EdgeRuntime {
  readonly url: string;
  readonly port: number;
  /** The Worker's console output so far (last 64 KiB). */
  output(): string;
  stop(): Promise<void>;
}

/** Builds the deployable bundle (`wrangler deploy --dry-run --outdir DIR`) and returns DIR. */
export async function buildEdgeBundle(outDir?: string): Promise<string> {
  const dir = outDir ?? (await mkdtemp(join(tmpdir(), 'rt-edge-')));
  const wrangler = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
  try {
    await run(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', dir], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_LOG: 'warn', CI: '1' },
    });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`wrangler build failed: ${e.stderr || e.stdout || e.message}`);
  }
  return dir;
}

/** Starts the edge on `port` with the given bindings; `stop()` ends workerd and removes a temp bundle. */
export async function startEdge(options: EdgeRuntimeOptions): Promise<EdgeRuntime> {
  const bundleDir = options.bundleDir ?? (await buildEdgeBundle());
  let buffer = '';
  const file: WriteStream | undefined = options.logFile
    ? createWriteStream(options.logFile, { flags: 'a' })
    : undefined;
  const collect = (stream: Readable) =>
    stream.on('data', (chunk: Buffer) => {
      buffer = (buffer + chunk.toString('utf8')).slice(-64 * 1024);
      file?.write(chunk);
    });
  const bindings: Record<string, string> = {
    REGIONS: JSON.stringify(options.regions),
    SIM: options.sim ? '1' : '0',
    ...(options.jwtSecret ? { JWT_SECRET: options.jwtSecret } : {}),
    ...(options.edgeSecret ? { EDGE_SECRET: options.edgeSecret } : {}),
    ...(options.upstash
      ? { UPSTASH_REDIS_REST_URL: options.upstash.url, UPSTASH_REDIS_REST_TOKEN: options.upstash.token }
      : {}),
    ...options.vars,
  };
  const host = options.host ?? '127.0.0.1';
  const signalListeners = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const mf = new Miniflare({
    scriptPath: join(bundleDir, 'index.js'),
    modules: true,
    modulesRoot: bundleDir,
    compatibilityDate: await compatibilityDate(),
    bindings,
    host,
    port: options.port ?? 0,
    cf: options.cf ?? LOCAL_CF,
    log: new Log(LogLevel.WARN),
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      collect(stdout);
      collect(stderr);
    },
  });
  let url: URL;
  try {
    url = await mf.ready;
  } catch (err) {
    await mf.dispose().catch(() => undefined);
    throw new Error(`edge did not start: ${(err as Error).message}\n${buffer.slice(-4000)}`);
  }
  // Miniflare's exit hook answers SIGINT/SIGTERM with process.exit() at once; whoever runs the edge
  // (the simulation, a test) stops it in order instead. Its 'exit' hook stays: workerd dies with us.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const listener of process.listeners(signal)) {
      if (!signalListeners[signal].includes(listener)) process.removeListener(signal, listener);
    }
  }
  const port = Number(url.port);
  return {
    url: `http://${host}:${port}`,
    port,
    output: () => buffer,
    async stop() {
      await mf.dispose();
      file?.end();
      if (!options.bundleDir) await rm(bundleDir, { recursive: true, force: true });
    },
  };
}

/** The `compatibility_date` of wrangler.toml, so local runs match deploys. */
async function compatibilityDate(): Promise<string> {
  const toml = await readFile(join(ROOT, 'wrangler.toml'), 'utf8');
  const date = /^compatibility_date\s*=\s*"([0-9-]+)"/m.exec(toml)?.[1];
  if (!date) throw new Error('wrangler.toml has no compatibility_date');
  return date;
}
