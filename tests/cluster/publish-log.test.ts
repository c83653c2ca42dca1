import { describe, expect, it } from 'vitest';
import { shardOfRoom } from '../../regions/bus';
import { LeaseLostError, markNewUnderLease } from '../../regions/bus/fenced-dedup';
import { RegionLease } from '../../regions/bus/lease';
import { claimRemoteIds } from '../../regions/bus/remote-ids';
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
import { encodeEnvelope, type Envelope } from '../../shared';
import { clusterForFile } from './cluster-for-file';

/** The default `BUS_SHARDS`: a room's publish group is its bus shard. */
const GROUPS = 8;

const file = clusterForFile();

/** Every publish group's outbox, merged by stream id (per group in acceptance order). */
async function appended(): Promise<Envelope[]> {
  const entries = (
    await Promise.all(
      Array.from({ length: GROUPS }, (_, g) => file.client.xrange(keys.groupOutbox(g), '-', '+')),
    )
  ).flat();
  return entries.sort(([a], [b]) => compareIds(a, b)).map(([, fields]) => decodeEnvelope(fields)!);
}

function clusterLog(rules: PublishLogRules) {
  const store = new ClusterAcceptStore(file.client, rules, GROUPS);
  const log = new RedisPublishLog(
    file.client,
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
  await file.flushMasters();
  const { log, store } = clusterLog(rules);
  return {
    log,
    // What the bus consumer does on a cluster besides its dedup mark: marks the id remote.
    markSeen: async (id) => void (await claimRemoteIds(file.client, [id], 60)),
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
  it('counts neither retries nor publishes refused for their id toward the rate, as one server does', async () => {
    await file.flushMasters();
    const { log } = clusterLog({ ...CONFORMANCE_RULES, publishRatePerUser: 2 });
    const taken = envelopeFor({ user: 'bob', room: 'chat:taken' });
    await log.accept(taken);
    // Room for the whole sequence in one rate second.
    if (Date.now() % 1000 > 300)
      await new Promise((resolve) => setTimeout(resolve, 1005 - (Date.now() % 1000)));
    const first = envelopeFor({ user: 'alice' });
    expect(await log.accept(first)).toMatchObject({ fresh: true });
    // Through another node, which has not answered these ids before (a node answers its own from memory).
    const other = clusterLog({ ...CONFORMANCE_RULES, publishRatePerUser: 2 }).log;
    for (let i = 0; i < 3; i++) expect(await other.accept({ ...first })).toMatchObject({ fresh: false });
    await expect(other.accept({ ...taken, user: 'alice', data: 'forged' })).rejects.toMatchObject({
      code: 'invalid',
    });
    expect(await log.accept(envelopeFor({ user: 'alice' }))).toMatchObject({ fresh: true });
    await expect(log.accept(envelopeFor({ user: 'alice' }))).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it('keeps an id claimed by a publish interrupted between its steps for its claimant alone', async () => {
    await file.flushMasters();
    const { log, store } = clusterLog(CONFORMANCE_RULES);
    const envelope = envelopeFor({ room: 'crash' });
    await store.firstStep(encodeEnvelope(envelope), ackRecordOf(envelope), Date.now(), 0);
    const forged = { ...envelope, user: 'mallory', room: roomInAnotherGroup('crash'), data: 'forged' };
    await expect(log.accept(forged)).rejects.toMatchObject({ code: 'invalid' });
    expect(await log.accept(envelope)).toMatchObject({ fresh: true });
    expect(await appended()).toEqual([envelope]);
  });

  it("spreads a region's publishes over the masters: no master holds every key or every outbox", async () => {
    await file.flushMasters();
    const { log } = clusterLog(CONFORMANCE_RULES);
    const rooms = Array.from({ length: 16 }, (_, i) => `chat:spread-${i}`);
    const users = ['ana', 'ben', 'cleo', 'dev', 'eli', 'fox'];
    for (const [i, room] of rooms.entries()) {
      for (const user of users.slice(0, 2 + (i % 3))) await log.accept(envelopeFor({ room, user }));
    }
    const masters = file.client.nodes('master');
    const perMaster = await Promise.all(masters.map((node) => node.dbsize()));
    expect(perMaster.filter((count) => count > 0).length).toBe(masters.length);
    expect(Math.max(...perMaster)).toBeLessThan(perMaster.reduce((a, b) => a + b));
    // The outboxes of the groups used live on more than one master.
    const groups = [...new Set(rooms.map((room) => shardOfRoom(room, GROUPS)))];
    const owners = await Promise.all(groups.map((g) => file.cluster.masterOf(keys.groupOutbox(g))));
    expect(new Set(owners.map((m) => m.port)).size).toBeGreaterThan(1);
  });
});

describe("the bus's dedup marks on a Redis Cluster: in the shard's publish group, fenced by its lease", () => {
  it('marks new ids and repeats in one script on the lease slot, and nothing for a stalled holder', async () => {
    await file.flushMasters();
    const shard = 5;
    const seen = (id: string) => keys.groupSeen(shard, id);
    const lease = new RegionLease(file.client, keys.groupShardLease(shard), 'node-a', 3_000);
    expect(await lease.acquire()).toBe(true);
    expect(await markNewUnderLease(file.client, lease, ['a', 'b'], 60, seen)).toEqual([true, true]);
    expect(await markNewUnderLease(file.client, lease, ['b', 'c'], 60, seen)).toEqual([false, true]);

    const stalled = new RegionLease(file.client, keys.groupShardLease(6), 'node-a', 200);
    expect(await stalled.acquire()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300)); // node-a stalls past its lease
    const successor = new RegionLease(file.client, keys.groupShardLease(6), 'node-b', 3_000);
    expect(await successor.acquire()).toBe(true);
    const seenIn6 = (id: string) => keys.groupSeen(6, id);
    await expect(markNewUnderLease(file.client, stalled, ['x'], 60, seenIn6)).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect(await file.client.exists(seenIn6('x'))).toBe(0);
    expect(await markNewUnderLease(file.client, successor, ['x'], 60, seenIn6)).toEqual([true]);
  });

  it('marks remote ids in the id claims, leaving a local claim made first alone', async () => {
    await file.flushMasters();
    const { log } = clusterLog(CONFORMANCE_RULES);
    const local = envelopeFor({ room: 'chat:first' });
    await log.accept(local);
    const remote = envelopeFor({ room: 'chat:remote', origin: 'us-east' });
    expect(await claimRemoteIds(file.client, [local.id, remote.id], 60)).toBe(0);
    expect(await log.accept({ ...local })).toMatchObject({ fresh: false });
    await expect(log.accept({ ...remote, origin: 'eu-west' })).rejects.toMatchObject({ code: 'invalid' });
  });
});
