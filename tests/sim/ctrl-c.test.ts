import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../harness/processes/ports';
import type { SimState } from '../../harness/sim/state';
import { eventually } from '../support/clients';

const ROOT = join(import.meta.dirname, '..', '..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

interface Started {
  npm: ChildProcess;
  state: SimState;
  output: () => string;
  dir: string;
}

const startedGroups: number[] = [];

/** `npm start` in a process group of its own, as a terminal runs it: one region, small and quick. */
async function npmStart(): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'rt-ctrlc-'));
  const edgePort = await freePort();
  const npm = spawn(
    'npm',
    ['start', '--', '--dir', dir, '--edge-port', String(edgePort), '--regions', 'eu-west', '--no-wan'],
    // Debug logging: the nodes write to their logs continuously, also while they are stopped.
    {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'debug' },
    },
  );
  startedGroups.push(npm.pid!);
  let output = '';
  npm.stdout!.on('data', (c) => (output += c));
  npm.stderr!.on('data', (c) => (output += c));
  await eventually(
    () => (existsSync(join(dir, 'state.json')) && /ready in/.test(output)) || npm.exitCode !== null,
    'npm start to be ready',
    120_000,
  );
  if (!/ready in/.test(output)) throw new Error(`npm start failed:\n${output}`);
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as SimState;
  return { npm, state, output: () => output, dir };
}

/** Sends traffic to every node while `during` runs, so their logs are being written at that moment. */
async function withTraffic(state: SimState, during: () => Promise<void>): Promise<void> {
  let on = true;
  const urls = state.regions.flatMap((r) => r.nodes.map((n) => n.url));
  const loops = urls.map(async (url) => {
    while (on) await fetch(`${url}/v1/rooms/ctrl-c/messages`).catch(() => undefined);
  });
  try {
    await during();
  } finally {
    on = false;
    await Promise.all(loops);
  }
}

async function nothingLeft(state: SimState): Promise<void> {
  const pids = state.processes.map((p) => p.pid);
  const ports = state.processes.map((p) => p.port);
  await eventually(
    async () => {
      const open = await Promise.all(ports.map(listening));
      return open.every((o) => !o) && pids.every((pid) => !alive(pid));
    },
    'every process and port of the simulation to be gone',
    15_000,
  );
}

afterEach(() => {
  // Whatever a failed test left: the whole group, as a last resort.
  for (const pgid of startedGroups.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

describe('stopping npm start', () => {
  it('Ctrl-C (SIGINT to its process group), three times over, leaves no process and no port', async () => {
    for (let round = 1; round <= 3; round++) {
      const { npm, state, output, dir } = await npmStart();
      const exited = new Promise<number | null>((resolve) => npm.once('exit', resolve));
      await withTraffic(state, async () => {
        await new Promise((r) => setTimeout(r, 300));
        process.kill(-npm.pid!, 'SIGINT');
        await exited;
      });
      await nothingLeft(state);
      expect(output(), `round ${round}`).not.toMatch(/ERR_STREAM_WRITE_AFTER_END|start-up failed/);
      // It says what it stopped.
      expect(output()).toMatch(/stopped region nodes/);
      expect(output()).toMatch(/stopped postgres/);
      expect(output()).toMatch(/stopped everything in \d+\.\d s/);
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('when the simulation process itself is killed outright, what it started goes too', async () => {
    const { state, dir } = await npmStart();
    const sim = state.processes.find((p) => p.role === 'upstash-rest')!.pid;
    process.kill(sim, 'SIGKILL');
    await nothingLeft(state);
    await rm(dir, { recursive: true, force: true });
  }, 120_000);
});
