import { Hono } from 'hono';
import type { EdgeDeps, EdgeEnv } from '../env';
import { decideFor, describeRegions } from './decision';

/** `/healthz`, `/v1/regions` (registry with live health) and `/v1/route` (this caller's region). */
export function routingRoutes(deps: EdgeDeps): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();

  app.get('/healthz', (c) =>
    c.json({ status: 'ok', regions: c.get('config').regions.length, sim: c.get('config').sim }),
  );

  app.get('/v1/regions', async (c) => c.json(describeRegions(await decideFor(c, deps))));

  app.get('/v1/route', async (c) => {
    const decision = await decideFor(c, deps);
    const [first, ...rest] = decision.targets;
    const caller = {
      lat: decision.caller.point?.lat ?? null,
      lon: decision.caller.point?.lon ?? null,
      continent: decision.caller.continent ?? null,
      source: decision.caller.source,
    };
    if (!first) {
      return c.json(
        {
          error: { code: 'unavailable', message: 'no region is taking new sessions' },
          caller,
          skipped: decision.plan.skipped,
          health: decision.health.source,
        },
        503,
      );
    }
    return c.json({
      region: first.region.id,
      distanceKm: first.distanceKm,
      reason: first.reason,
      caller,
      failover: rest.map((t) => t.region.id),
      skipped: decision.plan.skipped,
      health: decision.health.source,
    });
  });

  return app;
}
