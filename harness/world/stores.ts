import { migrate, type MigrateResult } from '../../infra/migrate';
import { startPostgresCluster, type LocalPostgresCluster } from '../processes/postgres';
import { startRedis, type LocalRedis } from '../processes/redis';
import { startPeerLinks, type PeerLinks } from './bus-peers';
import type { WorldContext } from './context';
import type { NodeStores } from './node';
import { clusterBusPeers, linkedBusPeers, startRegionalRedis, type RegionalRedis } from './regional-redis';
import type { RegionSpec } from './types';

/** The stores of a world: a global Redis, each region's Redis, Postgres, and the bus links. */
export interface WorldStores {
  readonly globalRedis: LocalRedis;
  /** Each region's Redis, by region id. */
  readonly regional: Map<string, RegionalRedis>;
  readonly postgres?: LocalPostgresCluster;
  readonly migrations?: MigrateResult;
  /** Links from every region given at start to every other one (none between Redis Clusters). */
  readonly links?: PeerLinks;
}

/** One more Redis server in the world's home, stopped with the world. */
export async function startNamedRedis(ctx: WorldContext, name: string): Promise<LocalRedis> {
  const redis = await startRedis(ctx.log(`redis-${name}.log`));
  ctx.teardown.track(redis, () => `${name} redis (pid ${redis.pid})`);
  return redis;
}

/** A region's Redis (a server, or a Redis Cluster), stopped with the world. */
export async function startRegionRedis(ctx: WorldContext, spec: RegionSpec): Promise<RegionalRedis> {
  const redis = await startRegionalRedis({
    cluster: !!spec.redisCluster,
    ...ctx.log(`redis-${spec.id}.log`),
  });
  ctx.teardown.track(
    redis,
    () => `redis of ${spec.id} (pids ${redis.processes.map((p) => p.pid).join(' ')})`,
  );
  return redis;
}

export async function startStores(ctx: WorldContext, specs: RegionSpec[]): Promise<WorldStores> {
  const globalRedis = await startNamedRedis(ctx, 'global');
  const regional = new Map<string, RegionalRedis>();
  for (const spec of specs) regional.set(spec.id, await startRegionRedis(ctx, spec));
  if (specs.length > 0)
    ctx.say(
      `redis: global on ${globalRedis.port}, regional on ${[...regional].map(([r, x]) => `${r}:${x.port}`).join(' ')}`,
    );

  let postgres: LocalPostgresCluster | undefined;
  let migrations: MigrateResult | undefined;
  if (ctx.options.postgres) {
    const pg = await startPostgresCluster({
      replicas: ctx.options.postgres.replicas,
      ...(ctx.options.logDir ? { logDir: ctx.options.logDir } : {}),
    });
    ctx.teardown.defer(`postgres (pids ${[pg.primary, ...pg.replicas].map((s) => s.pid).join(' ')})`, () =>
      pg.destroy(),
    );
    postgres = pg;
    migrations = await migrate(pg.primary.url);
    ctx.say(
      `postgres: primary (${ctx.home}) on ${pg.primary.port}, ${pg.replicas.length} streaming replica(s); ${migrations.applied.length} migration(s) applied`,
    );
  }

  // Each region appends to every other region's Redis directly, one WAN hop (docs/delivery.md).
  let links: PeerLinks | undefined;
  if (busOn(ctx, specs) && specs.some((s) => !s.redisCluster)) {
    const started = await startPeerLinks(
      specs.map(({ id }) => ({ id, redisPort: regional.get(id)!.port })),
      ctx.wanMs,
    );
    ctx.teardown.defer('bus links between regions', () => started.close());
    links = started;
  }
  return {
    globalRedis,
    regional,
    ...(postgres ? { postgres } : {}),
    ...(migrations ? { migrations } : {}),
    ...(links ? { links } : {}),
  };
}

/** Whether the regions given at start are joined by the bus (more than one, and `bus` not off). */
export function busOn(ctx: WorldContext, specs: RegionSpec[]): boolean {
  return (ctx.options.bus ?? true) && specs.length > 1;
}

/**
 * How a region's nodes reach their stores: its own Redis, the global Redis and the primary (through
 * the WAN from far regions), its replica, and with `withBus` the other regions' Redis.
 */
export async function nodeStoresOf(
  ctx: WorldContext,
  stores: WorldStores,
  spec: RegionSpec,
  withBus: boolean,
): Promise<NodeStores> {
  const { postgres } = stores;
  const replica = postgres && (ctx.options.postgres?.replicaOf ?? (() => 0))(spec.id);
  const databaseUrl = async (pg: LocalPostgresCluster) =>
    pg.primary.url.replace(`:${pg.primary.port}/`, `:${await ctx.reach(spec.id, pg.primary.port)}/`);
  return {
    redisUrl: stores.regional.get(spec.id)!.url,
    globalRedisUrl: `redis://127.0.0.1:${await ctx.reach(spec.id, stores.globalRedis.port)}`,
    ...(postgres ? { databaseUrl: await databaseUrl(postgres) } : {}),
    ...(replica !== undefined && postgres?.replicas[replica]
      ? { databaseReplicaUrl: postgres.replicas[replica].url }
      : {}),
    ...(withBus
      ? {
          busPeers: spec.redisCluster
            ? clusterBusPeers(spec.id, stores.regional)
            : linkedBusPeers(spec.id, stores.regional, (to) => stores.links!.link(spec.id, to).port),
        }
      : {}),
  };
}
