import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimState } from '../../harness/sim/state';
import type { SessionInfo } from '../../shared';
import { RealtimeClient } from '../../shared/sdk';
import { eventually } from '../support/clients';
import { npmStart, type RunningSim } from '../support/npm-start';

const ROOT = join(import.meta.dirname, '..', '..');
const ROOM = 'rollout';

let sim: RunningSim;
let state: SimState;
const clients: RealtimeClient[] = [];

beforeAll(async () => {
  sim = await npmStart({
    args: ['--regions', 'eu-west', '--no-wan'],
    detached: true,
    readyWithinMs: 120_000,
  });
  state = sim.state;
}, 150_000);

afterAll(async () => {
  for (const c of clients) c.close();
  const { npm } = sim ?? {};
  if (npm?.pid && npm.exitCode === null) {
    process.kill(-npm.pid, 'SIGINT');
    await new Promise((r) => npm.once('exit', r));
  }
  if (sim) await rm(sim.dir, { recursive: true, force: true });
}, 30_000);

/** An SDK client through the edge, as an application would use it. */
function sdkClient(user: string): { client: RealtimeClient; sessions: SessionInfo[] } {
  const client = new RealtimeClient({
    url: state.edge,
    token: async () => {
      const res = await fetch(`${state.edge}/dev/token?sub=${user}&rooms=${ROOM}`);
      return ((await res.json()) as { token: string }).token;
    },
  });
  clients.push(client);
  const sessions: SessionInfo[] = [];
  client.on('session', (s) => sessions.push(s));
  return { client, sessions };
}

describe('a rolling restart of a region (npm run sim -- restart)', () => {
  it('replaces every node one at a time under steady traffic, losing and doubling nothing for SDK clients', async () => {
    const listeners = [...Array(6).keys()].map((i) => {
      const { client, sessions } = sdkClient(`listener${i}`);
      const received: string[] = [];
      const arrivals: number[] = [];
      client.on('message', (envelope) => {
        received.push(envelope.id);
        arrivals.push(Date.now());
      });
      return { client, sessions, received, arrivals };
    });
    for (const l of listeners) await l.client.join(ROOM);
    const nodesBefore = state.regions[0]!.nodes.map((n) => n.pid);

    // Two publishers, each publishing as fast as its acks come back, paced at 40 ms.
    const accepted: string[] = [];
    const failures: unknown[] = [];
    let publishing = true;
    const publishers = [0, 1].map(async (p) => {
      const { client } = sdkClient(`publisher${p}`);
      await client.join(ROOM);
      for (let n = 0; publishing; n++) {
        try {
          accepted.push((await client.publish(ROOM, { p, n })).id);
        } catch (err) {
          failures.push(err);
        }
        await new Promise((r) => setTimeout(r, 40));
      }
    });
    await eventually(() => accepted.length >= 20, 'traffic before the restart');

    const restart = spawn('npm', ['run', '-s', 'sim', '--', 'restart', 'eu-west', '--dir', sim.dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let restartOutput = '';
    restart.stdout!.on('data', (c) => (restartOutput += c));
    restart.stderr!.on('data', (c) => (restartOutput += c));
    const code = await new Promise<number | null>((resolve) => restart.once('exit', resolve));
    expect(code, restartOutput).toBe(0);
    expect(restartOutput).toMatch(/done: every node of eu-west replaced in \d+\.\d s/);
    const after = accepted.length;
    await eventually(() => accepted.length >= after + 20, 'traffic after the restart', 20_000);
    publishing = false;
    await Promise.all(publishers);

    // Every node is a new process, and npm start's state file says so.
    const stateAfter = JSON.parse(readFileSync(join(sim.dir, 'state.json'), 'utf8')) as SimState;
    const nodesAfter = stateAfter.regions[0]!.nodes.map((n) => n.pid);
    for (const pid of nodesAfter) expect(nodesBefore).not.toContain(pid);
    expect(sim.output()).not.toMatch(/exited unexpectedly/);

    expect(failures).toEqual([]);
    await eventually(
      () => listeners.every((l) => l.received.length >= accepted.length),
      'every accepted envelope at every listener',
      20_000,
    );
    let longestGapMs = 0;
    for (const l of listeners) {
      expect(new Set(l.received).size, 'no envelope twice').toBe(l.received.length);
      expect(new Set(l.received)).toEqual(new Set(accepted));
      // Each listener was moved at least once (its node drained), so the restart did reach it.
      expect(l.sessions.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < l.arrivals.length; i++)
        longestGapMs = Math.max(longestGapMs, l.arrivals[i]! - l.arrivals[i - 1]!);
    }
    console.log(
      `rolling restart of eu-west: ${accepted.length} envelopes, 0 lost, 0 doubled at ${listeners.length} listeners; longest gap any listener saw: ${longestGapMs} ms`,
    );
  }, 120_000);
});
