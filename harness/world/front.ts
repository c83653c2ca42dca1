import { randomBytes } from 'node:crypto';
import { startEdge, type EdgeRuntime } from '../processes/edge-runtime';
import { startRegionBalancer } from '../processes/haproxy';
import { freePort } from '../processes/ports';
import type { LocalRedis } from '../processes/redis';
import { startUpstashRest, type UpstashRestServer } from '../processes/upstash-rest';
import { REGION_CATALOG } from './catalog';
import type { WorldContext } from './context';
import type { WorldRegion } from './types';

/** A real HAProxy in front of each region's nodes; the region's `url` becomes the balancer's. */
export async function startBalancers(ctx: WorldContext, regions: WorldRegion[]): Promise<void> {
  const port = ctx.options.port ?? freePort;
  for (const region of regions) {
    const balancer = await startRegionBalancer({
      region: region.id,
      nodes: region.nodes,
      port: await port(),
      metricsPort: await port(),
      ...ctx.log(`haproxy-${region.id}.log`),
    });
    ctx.teardown.defer(`haproxy of ${region.id} (pid ${balancer.pid})`, () => balancer.close());
    region.balancer = balancer;
    region.url = balancer.url;
  }
}

/** The edge (workerd) in front of the regions, reading their health through an Upstash REST stand-in. */
export async function startFrontEdge(
  ctx: WorldContext,
  regions: WorldRegion[],
  globalRedis: LocalRedis,
  jwtSecret: string,
): Promise<{ edge: EdgeRuntime; upstash: UpstashRestServer }> {
  const options = ctx.options.edge ?? {};
  const upstash = await startUpstashRest({
    redisUrl: globalRedis.url,
    token: randomBytes(16).toString('hex'),
  });
  ctx.teardown.track(upstash, 'upstash REST stand-in');
  const edge = await startEdge({
    ...(options.port !== undefined ? { port: options.port } : {}),
    regions: regions.map(({ id, url }) => ({ id, url, ...REGION_CATALOG[id]! })),
    sim: true,
    jwtSecret,
    ...(options.edgeSecret ? { edgeSecret: options.edgeSecret } : {}),
    upstash: { url: upstash.url, token: upstash.token },
    ...(options.vars ? { vars: options.vars } : {}),
    ...ctx.log('edge.log'),
  });
  ctx.teardown.track(edge, 'edge (workerd)');
  ctx.say(`edge (workerd) on ${edge.url}`);
  return { edge, upstash };
}
