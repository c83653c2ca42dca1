import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive as alive } from '../../harness/processes/child';
import type { SimState } from '../../harness/sim/state';
import { closeAllClients, connectClient, eventually, type TestClient } from '../support/clients';
import { nothingLeft, npmStart } from '../support/npm-start';

let dir: string;
let sim: ChildProcess;
let output = '';
let state: SimState;

beforeAll(async () => {
  ({ npm: sim, state, dir } = await npmStart({ readyWithinMs: 150_000, onOutput: (c) => (output += c) }));
}, 180_000);

/** The simulation process itself (it serves the balancers), as opposed to npm and its shell. */
function simPid(): number | undefined {
  return state?.processes.find((p) => p.role === 'upstash-rest')?.pid;
}

afterAll(async () => {
  closeAllClients();
  // Whatever a failed test left running: stop the simulation itself, which stops what it started.
  const pid = simPid();
  if (pid && alive(pid)) {
    process.kill(pid, 'SIGINT');
    await eventually(() => !alive(pid), 'the simulation to stop', 30_000);
  }
  if (sim && sim.exitCode === null) sim.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

/** A client "in" a city, through the edge, and the region its session landed in. */
async function clientIn(
  lat: number,
  lon: number,
  user: string,
): Promise<{ client: TestClient; region: string }> {
  const tokenRes = await fetch(`${state.edge}/dev/token?sub=${user}&rooms=world`);
  const { token } = (await tokenRes.json()) as { token: string };
  const client = await connectClient(`${state.edge}?geo=${lat},${lon}`, token);
  await eventually(() => client.session !== undefined, `the session event for ${user}`);
  return { client, region: client.session!.region };
}

describe('npm start', () => {
  it('prints what runs where and how long start-up took, and writes a complete state file', () => {
    expect(output).toMatch(/ready in \d+(\.\d+)? s/);
    expect(state.edge).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(state.jwtSecret.length).toBeGreaterThanOrEqual(16);
    expect(state.startupMs).toBeGreaterThan(0);
    expect(state.regions.map((r) => r.id)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
    expect(state.regions.find((r) => r.id === 'eu-west')).toMatchObject({ lat: 53.3, lon: -6.3 });
    for (const region of state.regions) {
      expect(region.nodes).toHaveLength(2);
      expect(alive(region.redis.pid)).toBe(true);
      for (const node of region.nodes) expect(alive(node.pid)).toBe(true);
    }
    expect(state.postgres.primary.region).toBe('us-east');
    expect(state.postgres.replicas.map((r) => r.region)).toEqual(['eu-west', 'ap-southeast']);
    expect(alive(state.globalRedis.pid)).toBe(true);
    expect(state.wan.enabled).toBe(true);
    expect(state.wan.oneWayMs['us-east>eu-west']).toBe(28);
    expect(output).toContain('us-east>eu-west 28');
  });

  it('routes callers from three continents to their nearest region and delivers across regions once', async () => {
    const dublin = await clientIn(53.35, -6.26, 'dublin');
    const tokyo = await clientIn(35.68, 139.69, 'tokyo');
    const newYork = await clientIn(40.71, -74.0, 'newyork');
    expect([dublin.region, tokyo.region, newYork.region]).toEqual(['eu-west', 'ap-southeast', 'us-east']);
    for (const { client } of [dublin, tokyo, newYork])
      expect((await client.emitWithAck('join', { room: 'world' })).ok).toBe(true);

    const ack = await tokyo.client.emitWithAck('publish', { room: 'world', data: { text: 'konnichiwa' } });
    expect(ack.ok).toBe(true);
    await eventually(
      () => dublin.client.received.length === 1 && newYork.client.received.length === 1,
      'cross-region delivery',
      20_000,
    );
    expect(dublin.client.received[0]).toMatchObject({
      data: { text: 'konnichiwa' },
      user: 'tokyo',
      origin: 'ap-southeast',
    });
    expect(tokyo.client.received).toEqual([]);
  });

  it('accepts the server API key it generated, at the edge and on every node', async () => {
    expect(state.serverApiKey.length).toBeGreaterThanOrEqual(32);
    const broadcast = (base: string, key: string) =>
      fetch(`${base}/v1/broadcast`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ rooms: ['world'], data: 'from the backend' }),
      });
    expect((await broadcast(state.edge, state.serverApiKey)).status).toBe(202);
    expect((await broadcast(state.edge, 'x'.repeat(40))).status).toBe(401);
    for (const node of state.regions.flatMap((r) => r.nodes)) {
      expect((await broadcast(node.url, state.serverApiKey)).status, node.id).toBe(202);
    }
  });

  it('reports a child that dies unexpectedly, and keeps the rest running', async () => {
    const victim = state.regions.find((r) => r.id === 'ap-southeast')!.nodes[1]!;
    process.kill(victim.pid, 'SIGKILL');
    await eventually(
      () =>
        output.includes(`region node ${victim.id} (pid ${victim.pid}`) && /exited unexpectedly/.test(output),
      'the report of the dead node',
    );
    // The rest keeps running: every other process is alive and every other node is ready to serve
    // (`/readyz` asks its regional Redis; `/healthz` would answer from any live process).
    const others = state.processes.filter((p) => p.pid !== victim.pid);
    expect(others.filter((p) => !alive(p.pid)).map((p) => p.role)).toEqual([]);
    for (const region of state.regions) {
      for (const node of region.nodes.filter((n) => n.id !== victim.id)) {
        const ready = await fetch(`${node.url}/readyz`);
        expect(ready.status, node.id).toBe(200);
        expect(await ready.json()).toMatchObject({ status: 'ready', node: node.id, checks: { redis: 'up' } });
      }
    }
    // And a caller near the dead node's region is served there again, by the survivor, once the
    // region's balancer has seen the node fail its health check.
    const survivor = state.regions
      .find((r) => r.id === 'ap-southeast')!
      .nodes.find((n) => n.id !== victim.id)!;
    let attempt = 0;
    await eventually(async () => {
      const tokyo = await clientIn(35.68, 139.69, `tokyo-after-${attempt++}`).catch(() => undefined);
      tokyo?.client.close();
      return tokyo?.client.session?.node === survivor.id;
    }, 'a Tokyo session on the surviving ap-southeast node');
  });

  it('stops everything on SIGTERM to npm start: no process or port left', async () => {
    expect(sim.exitCode, `npm start exited early:\n${output}`).toBeNull();
    sim.kill('SIGTERM'); // to `npm start`, as a service manager would
    await new Promise((r) => sim.once('exit', r));
    await nothingLeft(state, 20_000);
  });
});
