import { z } from 'zod';
import type { GeoPoint } from './geo';
import type { NodeHeartbeat } from './wire';

/** One region of the edge's registry (`REGIONS` var in wrangler.toml): where it is and how to reach it. */
export const regionSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]{1,64}$/, 'must be a region id like eu-west'),
  /** The region's public entry (its load balancer), http(s) only. */
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});

export type Region = z.infer<typeof regionSchema>;

export const registrySchema = z
  .array(regionSchema)
  .min(1, 'must list at least one region')
  .refine(
    (regions) => new Set(regions.map((r) => r.id)).size === regions.length,
    'region ids must be unique',
  );

export type RegionRegistry = readonly Region[];

/** The outcome of reading a registry: the regions, or one line saying what is wrong. */
export type RegistryResult = { ok: true; regions: RegionRegistry } | { ok: false; message: string };

/**
 * Parses the `REGIONS` var: JSON text, or the array itself (wrangler passes TOML arrays as objects).
 * Never throws.
 */
export function parseRegistry(value: unknown): RegistryResult {
  if (value === undefined || value === null || value === '')
    return { ok: false, message: 'REGIONS is not set' };
  let json: unknown = value;
  if (typeof value === 'string') {
    try {
      json = JSON.parse(value);
    } catch {
      return { ok: false, message: 'REGIONS is not valid JSON' };
    }
  }
  const result = registrySchema.safeParse(json);
  if (result.success) return { ok: true, regions: result.data };
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `[${issue.path.join('].')}` : '';
  return { ok: false, message: `REGIONS${where}: ${issue?.message ?? 'invalid'}` };
}

/** One node's heartbeat (the versioned record and its codec are in `shared/wire.ts`). */
export type NodeHealthEntry = NodeHeartbeat;

/** The global Redis hash holding every node's heartbeat. */
export const HEALTH_HASH = 'rt:health';

/**
 * A region's routing state. Only `healthy` and `unknown` (no live health: static registry) regions
 * take new sessions.
 */
export type RegionStatus = 'healthy' | 'unknown' | 'down' | 'draining' | 'over_capacity';

export interface NodeState extends NodeHealthEntry {
  fresh: boolean;
}

export interface RegionState {
  region: Region;
  status: RegionStatus;
  /** This region's nodes as last heard from (fresh or stale). */
  nodes: NodeState[];
}

/** Whether a node with this heartbeat takes new sessions. */
export function nodeAccepts(node: NodeState): boolean {
  return node.fresh && !node.draining && node.connections < node.capacity;
}

/**
 * Each region's status from node heartbeats, or `unknown` for all when `entries` is undefined (live
 * health unavailable). A region is healthy when one of its nodes is fresh, not draining and below
 * capacity; with no fresh node it is down; otherwise draining or over capacity.
 */
export function regionStates(
  regions: RegionRegistry,
  entries: readonly NodeHealthEntry[] | undefined,
  now: number,
): RegionState[] {
  return regions.map((region) => {
    if (!entries) return { region, status: 'unknown', nodes: [] };
    const nodes = entries
      .filter((e) => e.region === region.id)
      .map((e) => ({ ...e, fresh: e.expiresAt > now }))
      .sort((a, b) => a.node.localeCompare(b.node));
    const fresh = nodes.filter((n) => n.fresh);
    let status: RegionStatus;
    if (fresh.some(nodeAccepts)) status = 'healthy';
    else if (fresh.length === 0) status = 'down';
    else if (fresh.every((n) => n.draining)) status = 'draining';
    else status = 'over_capacity';
    return { region, status, nodes };
  });
}

export function acceptsSessions(status: RegionStatus): boolean {
  return status === 'healthy' || status === 'unknown';
}

/** Rough centres of Cloudflare's `cf.continent` codes, for callers whose coordinates are unknown. */
export const CONTINENT_CENTRES: Readonly<Record<string, GeoPoint>> = {
  AF: { lat: 2, lon: 21 },
  AN: { lat: -80, lon: 0 },
  AS: { lat: 30, lon: 100 },
  EU: { lat: 50, lon: 10 },
  NA: { lat: 40, lon: -95 },
  OC: { lat: -25, lon: 140 },
  SA: { lat: -15, lon: -60 },
};
