import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '../../harness/processes/child';
import { isListening } from '../../harness/processes/ports';
import type { SimState } from '../../harness/sim/state';
import { eventually } from './clients';

const ROOT = join(import.meta.dirname, '..', '..');
/** The line npm start prints once everything is up (a bare "ready in" also matches "already in use"). */
const READY = /^\[sim\] ready in \d+\.\d s\. Ctrl-C stops everything\.$/m;

/** `npm start` as a user runs it, in a folder of its own. */
export interface RunningSim {
  /** The `npm` process (npm, its shell, then the simulation). */
  npm: ChildProcess;
  state: SimState;
  /** Its --dir. */
  dir: string;
  /** Everything it printed so far. */
  output(): string;
}

/**
 * Runs `npm start -- --dir DIR --edge-port PORT ...args` and resolves once it is ready: the state file
 * written, then "ready in N s" printed. `detached` gives it a process group of its own, as a terminal
 * does (a Ctrl-C is then a SIGINT to that group).
 */
export async function npmStart(options: {
  args?: string[];
  detached?: boolean;
  env?: NodeJS.ProcessEnv;
  readyWithinMs: number;
  onOutput?: (chunk: string) => void;
}): Promise<RunningSim> {
  const dir = await mkdtemp(join(tmpdir(), 'rt-sim-'));
  // Port 0: the edge binds a free port itself and the state file names it, so no other process can
  // take the port between choosing and binding it.
  const edgePort = 0;
  const npm = spawn(
    'npm',
    ['start', '--', '--dir', dir, '--edge-port', String(edgePort), ...(options.args ?? [])],
    {
      cwd: ROOT,
      detached: options.detached ?? false,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk;
    options.onOutput?.(chunk.toString());
  };
  npm.stdout!.on('data', collect);
  npm.stderr!.on('data', collect);
  try {
    await eventually(
      () => (existsSync(join(dir, 'state.json')) && READY.test(output)) || npm.exitCode !== null,
      'npm start to be ready',
      options.readyWithinMs,
    );
    if (!READY.test(output)) throw new Error(`npm start failed:\n${output}`);
  } catch (err) {
    // The simulation stops by itself once the npm that started it is gone.
    npm.kill('SIGKILL');
    throw err;
  }
  let state: SimState;
  try {
    state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as SimState;
  } catch (err) {
    npm.kill('SIGKILL');
    throw new Error(`npm start was ready, then its state file was gone (${String(err)}):\n${output}`);
  }
  return { npm, state, dir, output: () => output };
}

/** Waits until no process of the simulation is alive and none of its ports is open. */
export async function nothingLeft(state: SimState, timeoutMs: number): Promise<void> {
  const pids = state.processes.map((p) => p.pid);
  const ports = state.processes.map((p) => p.port);
  await eventually(
    async () => {
      const open = await Promise.all(ports.map((port) => isListening(port)));
      return open.every((o) => !o) && pids.every((pid) => !isAlive(pid));
    },
    'every process and port of the simulation to be gone',
    timeoutMs,
  );
}
