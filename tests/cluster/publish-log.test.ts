import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type LocalRedisCluster } from '../../harness/processes/redis-cluster';
import { shardOfRoom } from '../../regions/bus';
import { keys } from '../../regions/keyspace';
import { createLogger } from '../../regions/log';
import { RegionMetrics } from '../../regions/metrics';
import { compareIds, decodeEnvelope } from '../../regions/outbox';
import { ClusterAcceptStore, RedisPublishLog, type PublishLogRules } from '../../regions/publish';
import { ackRecordOf } from '../../regions/publish/log';
import {
  CONFORMANCE_RULES,
  envelopeFor,
  publishLogConformance,
  roomInAnotherGroup,
} from '../../regions/publish/publish-log-conformance';
import { createRedisClient, parseRedisTarget } from '../../regions/redis';
import { encodeEnvelope, type Envelope } from '../../shared';

/** The default `BUS_SHARDS`: a room's publish group is its bus shard. */
const GROUPS = 8;

let cluster: LocalRedisCluster;
let client: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
  client = createRedisClient(parseRedisTarget(cluster.url), 'test', {
    enableOfflineQueue: true,
    commandTimeout: 3_000,
  }) as Cluster;
  // The slot map known: `nodes('master')` lists the masters.
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
}, 60_000);
afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

async function flushMasters(): Promise<void> {
  await Promise.all(client.nodes('master').map((node) => node.flushall()));
}

/** Every publish group's outbox, merged by stream id (per group in acceptance order). */
async function appended(): Promise<Envelope[]> {
  const entries = (
    await Promise.all(Array.from({ length: GROUPS }, (_, g) => client.xrange(keys.groupOutbox(g), '-', '+')))
  ).flat();
  return entries.sort(([a], [b]) => compareIds(a, b)).map(([, fields]) => decodeEnvelope(fields)!);
}

function clusterLog(rules: PublishLogRules) {
  const store = new ClusterAcceptStore(client, rules, GROUPS);
  const log = new RedisPublishLog(
    client,
    rules,
    {
      log: createLogger('silent', { region: 'eu-west', node: 'test' }),
      metrics: new RegionMetrics({ region: 'eu-west', node: 'test' }),
      holdMaxBytes: 1024 * 1024,
    },
    store,
  );
  return { log, store };
}

publishLogConformance('Redis Cluster (3 masters, 3 replicas)', async (rules) => {
  await flushMasters();
  const { log, store } = clusterLog(rules);
  return {
    log,
    markSeen: async (id) => void (await client.set(keys.seen(id), '1', 'EX', 60)),
    appended,
    // Step 1 (the id claim and the rate count) ran; the node died before step 2.
    acceptInterrupted: async (envelope) =>
      void (await store.firstStep(
        encodeEnvelope(envelope),
        ackRecordOf(envelope),
        Date.now(),
        rules.publishRatePerUser,
      )),
  };
});

describe('the publish log on a Redis Cluster', () => {
  it('keeps an id claimed by a publish interrupted between its steps for its claimant alone', async () => {
    await flushMasters();
    const { log, store } = clusterLog(CONFORMANCE_RULES);
    const envelope = envelopeFor({ room: 'crash' });
    await store.firstStep(encodeEnvelope(envelope), ackRecordOf(envelope), Date.now(), 0);
    const forged = { ...envelope, user: 'mallory', room: roomInAnotherGroup('crash'), data: 'forged' };
    await expect(log.accept(forged)).rejects.toMatchObject({ code: 'invalid' });
    expect(await log.accept(envelope)).toMatchObject({ fresh: true });
    expect(await appended()).toEqual([envelope]);
  });

  it("spreads a region's publishes over the masters: no master holds every key or every outbox", async () => {
    await flushMasters();
    const { log } = clusterLog(CONFORMANCE_RULES);
    const rooms = Array.from({ length: 16 }, (_, i) => `chat:spread-${i}`);
    const users = ['ana', 'ben', 'cleo', 'dev', 'eli', 'fox'];
    for (const [i, room] of rooms.entries()) {
      for (const user of users.slice(0, 2 + (i % 3))) await log.accept(envelopeFor({ room, user }));
    }
    const masters = client.nodes('master');
    const perMaster = await Promise.all(masters.map((node) => node.dbsize()));
    expect(perMaster.filter((count) => count > 0).length).toBe(masters.length);
    expect(Math.max(...perMaster)).toBeLessThan(perMaster.reduce((a, b) => a + b));
    // The outboxes of the groups used live on more than one master.
    const groups = [...new Set(rooms.map((room) => shardOfRoom(room, GROUPS)))];
    const owners = await Promise.all(groups.map((g) => cluster.masterOf(keys.groupOutbox(g))));
    expect(new Set(owners.map((m) => m.port)).size).toBeGreaterThan(1);
  });
});
