import { startServerProcess, type ServerProcess } from './child';
import { freePort, waitForPort } from './ports';

/** A real `redis-server` on loopback, nothing saved to disk. */
export interface LocalRedis {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Stops the server (SIGTERM). */
  stop(): Promise<void>;
  /** Kills the server outright (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
}

export interface RedisOptions {
  port?: number;
  logFile?: string;
}

export async function startRedis(options: RedisOptions = {}): Promise<LocalRedis> {
  const port = options.port ?? (await freePort());
  let proc: ServerProcess;
  const launch = async () => {
    proc = startServerProcess(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
      ],
      options.logFile ? { logFile: options.logFile } : {},
    );
    const early = proc.exited.then((code) => {
      throw new Error(`redis-server on port ${port} exited (${code}): ${proc.output().slice(-500)}`);
    });
    await Promise.race([waitForPort(port), early]);
    early.catch(() => undefined);
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return proc.pid;
    },
    stop: () => proc.stop(),
    kill: () => proc.kill(),
    async restart() {
      await proc.stop();
      await launch();
    },
  };
}
