import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/** A server process started by us: we know its pid and stop it, even when a test fails. */
export interface ServerProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Output so far (also written to `logFile` when given). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL; resolves once the process has exited. */
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
}

const running = new Set<ServerProcess>();

export interface StartOptions extends SpawnOptions {
  logFile?: string;
  /** Keep only the last this many characters of output in memory. */
  keepOutput?: number;
}

export function startServerProcess(
  command: string,
  args: string[],
  options: StartOptions = {},
): ServerProcess {
  const { logFile, keepOutput = 64 * 1024, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  let buffer = '';
  const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
  const collect = (chunk: Buffer) => {
    buffer = (buffer + chunk.toString('utf8')).slice(-keepOutput);
    log?.write(chunk);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(handle);
      log?.end();
      resolve(code);
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const handle: ServerProcess = {
    pid: child.pid,
    child,
    exited,
    output: () => buffer,
    async stop(graceMs = 5_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => alive() && child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (!alive()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  running.add(handle);
  return handle;
}

// A crashed test runner or a Ctrl-C must not leave servers listening.
process.once('exit', () => {
  for (const proc of running) proc.child.kill('SIGKILL');
});
