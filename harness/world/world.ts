import { randomBytes } from 'node:crypto';
import { ensureRedisServer } from '../processes/system-programs';
import { worldContext, type WorldContext } from './context';
import { startBalancers, startFrontEdge } from './front';
import { startNode, type LocalNode, type NodeStores } from './node';
import {
  busOn,
  nodeStoresOf,
  startNamedRedis,
  startRegionRedis,
  startStores,
  type WorldStores,
} from './stores';
import { Teardown } from './teardown';

export type { LocalWorld, NodeExtras, RegionSpec, WorldOptions, WorldRegion } from './types';
import type { LocalWorld, NodeExtras, RegionSpec, WorldOptions, WorldRegion } from './types';

/** Starts a local world in dependency order: stores, bus links, nodes, balancers, edge. */
export async function startWorld(options: WorldOptions): Promise<LocalWorld> {
  ensureRedisServer();
  const teardown = new Teardown();
  const specs = options.regions.map((r) => (typeof r === 'string' ? { id: r } : r));
  const ctx = worldContext(options, teardown, options.home ?? specs[0]?.id ?? 'us-east');
  const jwtSecret = options.jwtSecret ?? randomBytes(24).toString('base64url');
  try {
    const stores = await startStores(ctx, specs);
    const nodes = new WorldNodes(ctx, stores, jwtSecret);
    await nodes.startRegions(specs, busOn(ctx, specs));
    const { regions } = nodes;
    if (options.balancers) await startBalancers(ctx, regions);
    if (regions.length > 0)
      ctx.say(
        `regions: ${regions.map((r) => `${r.id} (${r.nodes.length} nodes${r.balancer ? ` behind HAProxy ${r.url}` : ''})`).join(', ')}`,
      );
    const front = options.edge
      ? await startFrontEdge(ctx, regions, stores.globalRedis, jwtSecret)
      : undefined;
    return {
      home: ctx.home,
      jwtSecret,
      globalRedis: stores.globalRedis,
      ...(stores.postgres ? { postgres: stores.postgres } : {}),
      ...(stores.migrations ? { migrations: stores.migrations } : {}),
      regions,
      region: (id) => nodes.region(id),
      ...(stores.links ? { links: stores.links } : {}),
      ...(front ?? {}),
      wanMs: ctx.wanMs,
      reach: ctx.reach,
      startRedis: (name) => startNamedRedis(ctx, name),
      startNode: (region, id, extra) => nodes.startOne(region, id, extra),
      async addRegion(spec) {
        const full = typeof spec === 'string' ? { id: spec } : spec;
        stores.regional.set(full.id, await startRegionRedis(ctx, full));
        return (await nodes.startRegions([full], false))[0]!;
      },
      teardown,
      stop: (report) => teardown.stop(report),
      [Symbol.asyncDispose]: () => teardown.stop(),
    };
  } catch (err) {
    await teardown.stop();
    throw err;
  }
}

/** The nodes of a world, by region: how they are started, and stopped with the world. */
class WorldNodes {
  readonly regions: WorldRegion[] = [];

  constructor(
    private readonly ctx: WorldContext,
    private readonly stores: WorldStores,
    private readonly jwtSecret: string,
  ) {}

  region(id: string): WorldRegion {
    const found = this.regions.find((r) => r.id === id);
    if (!found)
      throw new Error(`no region ${id} in this world (${this.regions.map((r) => r.id).join(', ')})`);
    return found;
  }

  /** Starts the regions of `batch` at once (each region's nodes in order, or all at once). */
  async startRegions(batch: RegionSpec[], withBus: boolean): Promise<WorldRegion[]> {
    const started: WorldRegion[] = [];
    for (const spec of batch) {
      const stores = await nodeStoresOf(this.ctx, this.stores, spec, withBus);
      started.push({ id: spec.id, redis: this.stores.regional.get(spec.id)!, stores, nodes: [], url: '' });
    }
    this.regions.push(...started);
    const all: LocalNode[] = [];
    this.stopWithWorld(all);
    const nodeId = this.ctx.options.nodeId ?? ((r, n) => `${r}-${n}`);
    const startRegion = async (region: WorldRegion, spec: RegionSpec) => {
      const ids = Array.from({ length: spec.nodes ?? 1 }, (_, i) => nodeId(region.id, i + 1));
      const add = (node: LocalNode) => void (region.nodes.push(node), all.push(node));
      const launch = async (id: string) =>
        add(await this.launch(region, id, { settings: spec.settings ?? {} }));
      if (this.ctx.options.nodesAtOnce) await Promise.all(ids.map(launch));
      else for (const id of ids) await launch(id);
      region.url = region.nodes[0]?.url ?? '';
    };
    const results = await Promise.allSettled(started.map((r, i) => startRegion(r, batch[i]!)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return started;
  }

  /** One more node, stopped with the world; with `stores` of its own, `region` need not be the world's. */
  async startOne(regionId: string, id: string, extra: NodeExtras = {}): Promise<LocalNode> {
    const region = extra.stores ? { id: regionId, stores: extra.stores } : this.region(regionId);
    const node = await this.launch(region, id, extra);
    this.stopWithWorld([node]);
    return node;
  }

  private async launch(
    region: { id: string; stores: NodeStores },
    id: string,
    extra: NodeExtras,
  ): Promise<LocalNode> {
    const { options } = this.ctx;
    return startNode({
      region: region.id,
      id,
      jwtSecret: this.jwtSecret,
      stores: extra.stores ?? region.stores,
      settings: { ...options.settings, ...extra.settings },
      ...(extra.program ? { program: extra.program } : {}),
      nodeArgs: extra.nodeArgs ?? options.nodeArgs ?? [],
      ...(options.port ? { port: await options.port() } : {}),
      ...this.ctx.log(`node-${id}.log`),
      ...(options.readyTimeoutMs ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
      onLaunch: (proc) => options.onNodeLaunch?.(id, proc),
    });
  }

  /** Stops `nodes` (also those added to it later) with the world, all at once. */
  private stopWithWorld(nodes: LocalNode[]): void {
    const shutdown = this.ctx.options.nodeShutdown ?? { drain: 5_000 };
    this.ctx.teardown.defer(
      () =>
        `region nodes, ${shutdown === 'kill' ? 'killed' : 'drained'} in parallel (pids ${nodes.map((n) => n.pid).join(' ')})`,
      () => Promise.all(nodes.map((n) => (shutdown === 'kill' ? n.kill() : n.stop(shutdown.drain)))),
    );
  }
}
