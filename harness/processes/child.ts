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
  const pid = child.pid;
  reapOnExit(pid);
  let buffer = '';
  const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
  // A log that cannot be written (its folder removed under us) must not take the platform down.
  log?.on('error', () => undefined);
  const collect = (chunk: Buffer) => {
    buffer = (buffer + chunk.toString('utf8')).slice(-keepOutput);
    if (log && !log.writableEnded) log.write(chunk);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  // 'exit' can come before the last output is read from the pipes: the log is closed only once both
  // pipes are drained ('close'), so a child's last lines are kept and never written after the end.
  child.once('close', () => log?.end());
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(handle);
      forget(pid);
      resolve(code);
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const handle: ServerProcess = {
    pid,
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

/** Whether a process with this pid exists (signal 0). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills (SIGKILL) every server process still running; for a deadline that has passed. */
export function killAllServerProcesses(): void {
  for (const proc of running) proc.child.kill('SIGKILL');
}

// A crashed test runner or a Ctrl-C must not leave servers listening.
process.once('exit', killAllServerProcesses);

/*
 * The reaper: a tiny shell that outlives us. It reads `+PID` / `-PID` lines on a pipe from this
 * process; when the pipe reaches end-of-file (we exited, however: SIGKILL, a crash, an OOM kill) it
 * sends SIGTERM to every PID still listed, and SIGKILL two seconds later to any that did not go. It
 * ignores SIGINT/SIGTERM/SIGHUP so a Ctrl-C to the whole process group cannot stop it before its
 * work is done; it exits by itself once its pipe closes.
 */
const REAPER_SCRIPT = `
trap '' INT TERM HUP
pids=' '
while read -r line; do
  id=\${line#?}
  case "$line" in
    +*) pids="$pids$id " ;;
    -*) case "$pids" in *" $id "*) pids="\${pids%% $id *} \${pids#* $id }" ;; esac ;;
  esac
done
left=''
for p in $pids; do kill -TERM "$p" 2>/dev/null && left="$left $p"; done
[ -z "$left" ] && exit 0
sleep 2
for p in $left; do kill -KILL "$p" 2>/dev/null; done
exit 0
`;

let reaper: ChildProcess | undefined;

/** Makes sure `pid` is stopped if this process dies without stopping it (see the reaper above). */
export function reapOnExit(pid: number): void {
  if (!reaper) {
    reaper = spawn('sh', ['-c', REAPER_SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'] });
    reaper.unref();
    (reaper.stdin as unknown as { unref?: () => void }).unref?.();
    reaper.stdin?.on('error', () => undefined);
  }
  reaper.stdin?.write(`+${pid}\n`);
}

function forget(pid: number): void {
  reaper?.stdin?.write(`-${pid}\n`);
}
