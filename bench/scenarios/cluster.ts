import { startRedisCluster } from '../../harness/processes/redis-cluster';
import { startRedis } from '../../harness/processes/redis';
import type { BenchNode } from '../platforms';
import { percentile, spread, type Spread } from '../stats';
import type { ScenarioContext } from './context';

/** The two ways a region's Redis is run in this scenario. */
export type RedisKind = 'single' | 'cluster';

/** Scenario: our region on one Redis server against the same region on a Redis Cluster. */
export interface ClusterRow {
  /** `cluster`: 3 masters and 3 replicas on this machine, sharded Socket.IO adapter. */
  kind: RedisKind;
  sameNodeP50: Spread;
  sameNodeP99: Spread;
  acrossNodesP50: Spread;
  acrossNodesP99: Spread;
  /** Fan-out into a room of 100 on one node (publishes in flight as in scenario 2). */
  fanoutDeliveriesPerSecond: Spread;
}

/**
 * A lone region (no bus) of two of our nodes twice: on one fresh `redis-server`, and on a fresh local
 * Redis Cluster (`redis+cluster://`, 3 masters with a replica each, every process on this machine).
 * Both measure same-node and across-node latency and a fan-out into a room of 100. On one 2-core
 * machine a cluster can only show its overhead (more processes, slot routing, sharded pub/sub), not
 * the capacity it adds with more machines.
 */
export async function measureCluster(ctx: ScenarioContext): Promise<ClusterRow[]> {
  const o = ctx.options.cluster;
  const rows: ClusterRow[] = [];
  for (const kind of ['single', 'cluster'] as const) {
    const redis = kind === 'single' ? await startRedis() : await startRedisCluster();
    const nodes: BenchNode[] = [];
    try {
      const env = {
        REDIS_URL: redis.url,
        GLOBAL_REDIS_URL: ctx.world.ours.redis.global!.url,
        DATABASE_URL: ctx.world.databaseUrl,
        GLOBAL_BUS: 'off',
      };
      // A region of its own (not one the edge routes to), so its health and presence touch no other.
      for (let i = 1; i <= 2; i++)
        nodes.push(await ctx.world.startOurNode(o.region, `ours-${kind}-${i}`, env));
      const runs = {
        s50: [] as number[],
        s99: [] as number[],
        a50: [] as number[],
        a99: [] as number[],
        fan: [] as number[],
      };
      for (let rep = 1; rep <= ctx.options.repetitions; rep++) {
        const result = await ctx.load.run({
          kind: 'latency',
          count: o.count,
          warmup: o.warmup,
          ratePerSecond: o.ratePerSecond,
          origins: [
            {
              name: kind,
              url: nodes[0]!.url,
              receivers: [
                { path: 'same node', url: nodes[0]!.url },
                { path: 'across nodes', url: nodes[1]!.url },
              ],
            },
          ],
        });
        const same = result.samples['same node'] ?? [];
        const across = result.samples['across nodes'] ?? [];
        runs.s50.push(percentile(same, 0.5));
        runs.s99.push(percentile(same, 0.99));
        runs.a50.push(percentile(across, 0.5));
        runs.a99.push(percentile(across, 0.99));
        const group = `cluster-fan-${kind}-${rep}`;
        const room = `bench.cluster.${group}`;
        await ctx.load.run({
          kind: 'open',
          group,
          url: nodes[0]!.url,
          count: 100,
          room,
          users: 'one',
          concurrency: 50,
        });
        const fan = await ctx.load.run({
          kind: 'fanout',
          group,
          url: nodes[0]!.url,
          room,
          window: ctx.options.fanout.window,
          warmupMs: ctx.options.fanout.warmupMs,
          durationMs: ctx.options.fanout.durationMs,
        });
        await ctx.load.run({ kind: 'close', group });
        runs.fan.push(fan.deliveries / fan.seconds);
        ctx.say(
          `redis ${kind} ${rep}/${ctx.options.repetitions}: same node p50 ${runs.s50.at(-1)!.toFixed(1)} ms, across nodes p50 ${runs.a50.at(-1)!.toFixed(1)} ms, fan-out ${Math.round(runs.fan.at(-1)!)} deliveries/s`,
        );
      }
      rows.push({
        kind,
        sameNodeP50: spread(runs.s50),
        sameNodeP99: spread(runs.s99),
        acrossNodesP50: spread(runs.a50),
        acrossNodesP99: spread(runs.a99),
        fanoutDeliveriesPerSecond: spread(runs.fan),
      });
    } finally {
      for (const node of nodes) await node.stop();
      await redis.stop();
    }
  }
  return rows;
}
