import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { LocalRedis } from '../../harness/processes/redis';
import type { PeerLinks } from '../../harness/world/bus-peers';
import { closeAllClients, connectClient, eventually, type TestClient } from '../support/clients';
import type { WorldRegion } from '../../harness/world/world';
import { startTestWorld } from '../support/region-cluster';
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
  regions: Record<RegionId, WorldRegion>;
  /** A command client on the global Redis. */
  global: Redis;
  /** The bus links between the regions (no added delay), to cut and restore. */
  links: PeerLinks;
  stop(): Promise<void>;
}

export async function startThreeRegions(env: Record<string, string> = {}): Promise<ThreeRegions> {
  const world = await startTestWorld({
    regions: REGIONS.map((id) => ({ id, nodes: 2 })),
    settings: { ...FAST_BUS_ENV, ...env },
  });
  const global = new Redis(world.globalRedis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  global.on('error', () => undefined);
  world.teardown.defer('the global Redis client', async () => {
    closeAllClients();
    global.disconnect();
  });
  try {
    await global.connect();
  } catch (err) {
    await world.stop();
    throw err;
  }
  const regions = Object.fromEntries(world.regions.map((r) => [r.id, r])) as Record<RegionId, WorldRegion>;
  return { globalRedis: world.globalRedis, regions, global, links: world.links!, stop: () => world.stop() };
}

/**
 * The three regions of one test file: started before its tests and stopped after them; the clients
 * of each test are closed after it. The fields are there once the file's tests run.
 */
export function useThreeRegions(env: Record<string, string> = {}): ThreeRegions {
  const cluster = {} as ThreeRegions;
  beforeAll(async () => void Object.assign(cluster, await startThreeRegions(env)));
  afterAll(() => cluster.stop?.());
  afterEach(() => closeAllClients());
  return cluster;
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
