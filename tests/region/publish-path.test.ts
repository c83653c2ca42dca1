import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRedis } from '../../harness/processes/redis';
import type { LocalWorld } from '../../harness/world/world';
import { newEnvelopeId, type Envelope } from '../../shared';
import { closeAllClients, connectClient, eventually, sleep, type TestClient } from '../support/clients';
import { startTestWorld } from '../support/region-cluster';
import type { RegionProcess } from '../support/region-process';
import { tokenFor } from '../support/tokens';
import { keys } from '../../regions/keyspace';

// Postgres and a global Redis; each test adds the nodes it needs, each on a regional Redis.
let world: LocalWorld;
beforeAll(async () => {
  world = await startTestWorld({ regions: [], postgres: { replicas: 0 } });
});
afterAll(async () => {
  closeAllClients();
  await world?.stop();
});

/** One node of `region` on a regional redis-server of its own, with a command client on that Redis. */
async function startNode(region: string, env: Record<string, string> = {}, regional?: LocalRedis) {
  const redis = regional ?? (await world.startRedis(region));
  const node: RegionProcess = await world.startNode(region, `${region}-1`, {
    stores: {
      redisUrl: redis.url,
      globalRedisUrl: world.globalRedis.url,
      databaseUrl: world.postgres!.primary.url,
    },
    settings: {
      LOG_LEVEL: 'warn',
      PUBLISH_RATE_PER_CONNECTION: '500',
      PUBLISH_RATE_PER_USER: '1000',
      OUTBOX_TRIM_INTERVAL_MS: '300',
      BUS_LEASE_MS: '1500',
      ...env,
    },
  });
  const client = new Redis(redis.url);
  world.teardown.defer(`a client of ${region}'s Redis`, async () => client.disconnect());
  return { node, redis, client };
}

async function historyOf(node: RegionProcess, room: string): Promise<Envelope[]> {
  const res = await fetch(`${node.url}/v1/rooms/${room}/messages?limit=100`, {
    headers: { authorization: `Bearer ${await tokenFor('reader')}` },
  });
  if (res.status !== 200) return [];
  return ((await res.json()) as { messages: Envelope[] }).messages;
}

async function publish(client: TestClient, payload: object) {
  return client.timeout(10_000).emitWithAck('publish', payload as never);
}

describe('the outbox is trimmed in every mode', () => {
  for (const mode of ['off', 'on'] as const) {
    it(`stays bounded under steady traffic with GLOBAL_BUS=${mode}, and history gets every envelope`, async () => {
      // With the bus on, the forwarder appends to the peer's Redis (no node reads it there).
      const peer = await world.startRedis('peer');
      const { node, client } = await startNode(mode === 'off' ? 'ap-southeast' : 'sa-east', {
        GLOBAL_BUS: mode,
        BUS_PEERS: `us-east=${peer.url}`,
      });
      const alice = await connectClient(node.url, await tokenFor('alice'));
      const room = `steady-${mode}`;
      const total = 300;
      for (let i = 0; i < total; i++) {
        expect(await publish(alice, { room, data: { i } })).toMatchObject({ ok: true });
        if (i % 20 === 19) await sleep(50);
      }
      // Every envelope went through this outbox (so the bound below is not met by an empty key).
      const info = (await client.xinfo('STREAM', keys.outbox())) as unknown[];
      expect(Number(info[info.indexOf('entries-added') + 1])).toBeGreaterThanOrEqual(total);
      await eventually(async () => (await client.xlen(keys.outbox())) < 30, 'outbox trimmed', 15_000);
      const sql = postgres(world.postgres!.primary.url, { max: 1, onnotice: () => undefined });
      world.teardown.defer('a Postgres client', () => sql.end());
      const stored = async () =>
        Number((await sql`SELECT count(*) AS n FROM messages WHERE room = ${room}`)[0]!.n);
      await eventually(async () => (await stored()) === total, 'history written', 15_000);
    });
  }
});

describe('ephemeral publishes', () => {
  it('reach the room live, once, in order with stored ones, and are never in history or `missed`', async () => {
    const { node } = await startNode('eu-central', { GLOBAL_BUS: 'off' });
    const alice = await connectClient(node.url, await tokenFor('alice'));
    const bob = await connectClient(node.url, await tokenFor('bob'));
    await bob.emitWithAck('join', { room: 'typing' });
    const first = await publish(alice, { room: 'typing', data: 'stored 1' });
    expect(await publish(alice, { room: 'typing', data: 'typing...', ephemeral: true })).toMatchObject({
      ok: true,
    });
    const res = await fetch(`${node.url}/v1/rooms/typing/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenFor('carol')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ data: 'http typing', ephemeral: true }),
    });
    expect(res.status).toBe(202);
    await publish(alice, { room: 'typing', data: 'stored 2' });
    await eventually(() => bob.received.length === 4, 'four deliveries');
    expect(bob.received.map((e) => [e.data, e.ephemeral])).toEqual([
      ['stored 1', undefined],
      ['typing...', true],
      ['http typing', true],
      ['stored 2', undefined],
    ]);
    await eventually(async () => (await historyOf(node, 'typing')).length === 2, 'stored ones in history');
    await sleep(500);
    expect((await historyOf(node, 'typing')).map((e) => e.data)).toEqual(['stored 1', 'stored 2']);
    const late = await connectClient(node.url, await tokenFor('dave'));
    const joined = await late.emitWithAck('join', {
      room: 'typing',
      since: (first as { id: string }).id as never,
    });
    expect(joined).toMatchObject({ ok: true });
    expect((joined as { missed: Envelope[] }).missed.map((e) => e.data)).toEqual(['stored 2']);
  });
});

describe('envelope ids', () => {
  it("refuses a publish in another region that reuses an id it delivered there; Alice's envelope stays hers", async () => {
    const [usRedis, euRedis] = [await world.startRedis('us-east'), await world.startRedis('eu-west')];
    const us = await startNode('us-east', { BUS_PEERS: `eu-west=${euRedis.url}` }, usRedis);
    const eu = await startNode('eu-west', { BUS_PEERS: `us-east=${usRedis.url}` }, euRedis);
    const alice = await connectClient(us.node.url, await tokenFor('alice'));
    const mallory = await connectClient(eu.node.url, await tokenFor('mallory'));
    await mallory.emitWithAck('join', { room: 'shared' });
    await alice.emitWithAck('join', { room: 'shared' });
    const id = newEnvelopeId();
    expect(await publish(alice, { room: 'shared', data: 'from alice', id })).toMatchObject({ ok: true, id });
    await eventually(() => mallory.received.some((e) => e.id === id), 'delivered to eu-west', 15_000);
    const reused = await publish(mallory, { room: 'shared', data: 'forged', id });
    expect(reused).toMatchObject({ ok: false, error: { code: 'invalid' } });
    // An ephemeral envelope crosses regions like any other, once, still marked.
    expect(await publish(alice, { room: 'shared', data: 'typing', ephemeral: true })).toMatchObject({
      ok: true,
    });
    await eventually(() => mallory.received.length === 2, 'ephemeral delivered to eu-west', 15_000);
    await eventually(async () => (await historyOf(us.node, 'shared')).length === 1, 'history written');
    await sleep(1_000);
    expect(alice.received).toEqual([]);
    expect(mallory.received.map((e) => [e.data, e.ephemeral])).toEqual([
      ['from alice', undefined],
      ['typing', true],
    ]);
    expect((await historyOf(eu.node, 'shared')).map((e) => [e.id, e.user, e.data])).toEqual([
      [id, 'alice', 'from alice'],
    ]);
  });

  it('refuses a client id older than the idempotency window', async () => {
    const { node } = await startNode('af-south', { GLOBAL_BUS: 'off', IDEMPOTENCY_WINDOW_S: '60' });
    const alice = await connectClient(node.url, await tokenFor('alice'));
    const old = '01890a5d-ac96-774b-bcce-b302099a8057'; // made in 2023
    expect(await publish(alice, { room: 'r', data: 1, id: old })).toMatchObject({
      ok: false,
      error: { code: 'invalid' },
    });
  });
});

describe('a frozen regional Redis', () => {
  it('costs a publish one command deadline, and the envelope is stored once Redis answers again', async () => {
    const { node, redis, client } = await startNode('me-central', { GLOBAL_BUS: 'off' });
    const alice = await connectClient(node.url, await tokenFor('alice'));
    expect(await publish(alice, { room: 'frozen', data: 'before' })).toMatchObject({ ok: true });
    process.kill(redis.pid, 'SIGSTOP');
    let elapsed: number;
    let ack: unknown;
    try {
      const started = Date.now();
      ack = await publish(alice, { room: 'frozen', data: 'during' });
      elapsed = Date.now() - started;
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }
    expect(ack).toMatchObject({ ok: true });
    // The regional command deadline is 3 s; the rate check and the append used to cost one each.
    expect(elapsed).toBeLessThan(5_000);
    await eventually(async () => (await historyOf(node, 'frozen')).length === 2, 'both stored', 15_000);
    expect(await client.exists(keys.outbox())).toBe(1);
  });
});
