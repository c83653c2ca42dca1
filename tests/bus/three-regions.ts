import { Redis } from 'ioredis';
import { startPeerLinks, type PeerLinks } from '../../harness/world/bus-peers';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';
import { closeAllClients, connectClient, eventually, type TestClient } from '../support/clients';
import { startTestRegion, type TestRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';
import type { Envelope } from '../../shared';

export const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;
export type RegionId = (typeof REGIONS)[number];

/** Short leases and waits so take-overs happen within seconds in tests. */
export const FAST_BUS_ENV: Record<string, string> = {
  BUS_SHARDS: '8',
  BUS_LEASE_MS: '1500',
  // Long waits on the shard reads: a stopped node then holds its read open, as a frozen one would.
  BUS_BLOCK_MS: '10000',
  BUS_CLAIM_IDLE_MS: '3000',
  PRESENCE_MIRROR_TTL_MS: '3000',
  PUBLISH_RATE_PER_CONNECTION: '1000',
  PUBLISH_RATE_PER_USER: '1000',
  LOG_LEVEL: 'warn',
};

/**
 * Three regions of two node processes each, on their own regional Redis, joined by one global Redis
 * (presence, health) and by a bus link from each region to each other region's Redis.
 */
export interface ThreeRegions {
  globalRedis: LocalRedis;
  regions: Record<RegionId, TestRegion>;
  /** A command client on the global Redis. */
  global: Redis;
  /** The bus links between the regions (no added delay), to cut and restore. */
  links: PeerLinks;
  stop(): Promise<void>;
}

export async function startThreeRegions(env: Record<string, string> = {}): Promise<ThreeRegions> {
  const globalRedis = await startRedis();
  const regionalRedis = await Promise.all(REGIONS.map(() => startRedis()));
  const links = await startPeerLinks(
    REGIONS.map((id, i) => ({ id, redisPort: regionalRedis[i]!.port })),
    () => 0,
  );
  const started: TestRegion[] = [];
  const global = new Redis(globalRedis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  global.on('error', () => undefined);
  const stop = async () => {
    closeAllClients();
    global.disconnect();
    await Promise.all(started.map((r) => r.stop()));
    await links.close();
    await Promise.all(regionalRedis.map((r) => r.stop()));
    await globalRedis.stop();
  };
  try {
    const results = await Promise.allSettled(
      REGIONS.map((region, i) =>
        startTestRegion({
          region,
          nodes: 2,
          globalRedis,
          redis: regionalRedis[i]!,
          env: { ...FAST_BUS_ENV, BUS_PEERS: links.busPeers(region), ...env },
        }).then((r) => {
          started.push(r);
          return r;
        }),
      ),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    await global.connect();
  } catch (err) {
    await stop();
    throw err;
  }
  const byId = Object.fromEntries(started.map((r) => [r.region, r])) as Record<RegionId, TestRegion>;
  return { globalRedis, regions: byId, global, links, stop };
}

/** A client of `user` connected to node `index` of `region`, joined to `room`. */
export async function member(
  cluster: ThreeRegions,
  region: RegionId,
  index: number,
  user: string,
  room: string,
): Promise<TestClient> {
  const client = await connectClient(cluster.regions[region].nodes[index]!.url, await tokenFor(user));
  const ack = await client.emitWithAck('join', { room });
  if (!ack.ok) throw new Error(`join failed: ${ack.error.message}`);
  return client;
}

/** Publishes and returns the ack's id; throws if the publish was refused. */
export async function publish(client: TestClient, room: string, data: unknown): Promise<string> {
  const ack = await client.emitWithAck('publish', { room, data: data as never });
  if (!ack.ok) throw new Error(`publish failed: ${ack.error.code} ${ack.error.message}`);
  return ack.id;
}

/** Envelopes `client` received in `room`. */
export function inRoom(client: TestClient, room: string): Envelope[] {
  return client.received.filter((e) => e.room === room);
}

/** Waits until `client` has received every id in `ids` in `room`. */
export async function receivedAll(
  client: TestClient,
  room: string,
  ids: string[],
  what: string,
): Promise<void> {
  await eventually(
    () => {
      const got = new Set<string>(inRoom(client, room).map((e) => e.id));
      return ids.every((id) => got.has(id));
    },
    what,
    30_000,
  );
}

/** Ids that appear more than once in what `client` received. */
export function duplicateIds(client: TestClient): string[] {
  const seen = new Set<string>();
  return client.received.map((e) => e.id).filter((id) => seen.has(id) || !seen.add(id));
}
