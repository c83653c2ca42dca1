import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimState } from '../../harness/sim/state';
import { nothingLeft, npmStart, type RunningSim } from '../support/npm-start';

const startedGroups: number[] = [];

/** `npm start` in a process group of its own, as a terminal runs it: one region, small and quick. */
async function startSmall(): Promise<RunningSim> {
  const started = await npmStart({
    args: ['--regions', 'eu-west', '--no-wan'],
    detached: true,
    // Debug logging: the nodes write to their logs continuously, also while they are stopped.
    env: { ...process.env, LOG_LEVEL: 'debug' },
    readyWithinMs: 120_000,
  });
  startedGroups.push(started.npm.pid!);
  return started;
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
      const { npm, state, output, dir } = await startSmall();
      const exited = new Promise<number | null>((resolve) => npm.once('exit', resolve));
      await withTraffic(state, async () => {
        await new Promise((r) => setTimeout(r, 300));
        process.kill(-npm.pid!, 'SIGINT');
        await exited;
      });
      await nothingLeft(state, 15_000);
      expect(output(), `round ${round}`).not.toMatch(/ERR_STREAM_WRITE_AFTER_END|start-up failed/);
      // It says what it stopped.
      expect(output()).toMatch(/stopped region nodes/);
      expect(output()).toMatch(/stopped postgres/);
      expect(output()).toMatch(/stopped everything in \d+\.\d s/);
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('when the simulation process itself is killed outright, what it started goes too', async () => {
    const { state, dir } = await startSmall();
    const sim = state.processes.find((p) => p.role === 'upstash-rest')!.pid;
    process.kill(sim, 'SIGKILL');
    await nothingLeft(state, 15_000);
    await rm(dir, { recursive: true, force: true });
  }, 120_000);
});
