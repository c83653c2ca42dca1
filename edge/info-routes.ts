import type { Hono } from 'hono';
import { backgroundOf, decideRoute, describeRegions } from './decision';
import type { EdgeEnv } from './env';
import type { EdgeDeps } from './app';

/** `/healthz`, `/v1/regions` (registry with live health) and `/v1/route` (this caller's region). */
export function registerInfoRoutes(app: Hono<EdgeEnv>, deps: EdgeDeps): void {
  app.get('/healthz', (c) =>
    c.json({ status: 'ok', regions: c.get('config').regions.length, sim: c.get('config').sim }),
  );

  app.get('/v1/regions', async (c) => {
    const decision = await decideRoute(
      c.req.raw,
      c.get('config'),
      deps.readHealth,
      deps.now(),
      backgroundOf(c),
    );
    return c.json(describeRegions(decision));
  });

  app.get('/v1/route', async (c) => {
    const decision = await decideRoute(
      c.req.raw,
      c.get('config'),
      deps.readHealth,
      deps.now(),
      backgroundOf(c),
    );
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
}
