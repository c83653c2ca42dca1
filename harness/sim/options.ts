import { parseCliArgs, UsageError } from '../cli-args';
import { z } from 'zod';
import { DEFAULT_REGIONS, REGION_CATALOG } from '../world/catalog';

/** What `npm start` runs; every field has a default. */
export interface SimOptions {
  regions: string[];
  nodesPerRegion: number;
  edgePort: number;
  /** First port of the region nodes and balancers (0: free ports). */
  basePort: number;
  wan: boolean;
  /** Where the primary, and the global Redis, are. */
  primaryRegion: string;
  /** Regions that get a streaming replica (default: every region but the primary's). */
  replicaRegions: string[];
  /** Require `x-edge-secret` on region nodes (then only the edge can reach them). */
  edgeSecret: boolean;
  /** Each region's Redis is a local Redis Cluster (3 masters, 3 replicas) instead of one server. */
  redisCluster: boolean;
  dir: string;
}

export const HELP = `Usage: npm start [-- options]

Starts the whole platform on this machine: a global Redis, a Redis per region, a PostgreSQL primary
with streaming replicas, region nodes behind HAProxy per region (infra/deploy/haproxy), WAN delays
between regions, and the edge Worker in workerd. Writes <dir>/state.json when ready; logs go to
<dir>/logs/.
Ctrl-C or SIGTERM stops everything it started.

Options:
  --regions LIST         comma-separated region ids (default ${DEFAULT_REGIONS.join(',')});
                         known: ${Object.keys(REGION_CATALOG).join(', ')}
  --nodes N              nodes per region (default 2)
  --edge-port PORT       edge port (default $EDGE_PORT or 8787; 0: any free port)
  --base-port PORT       first port for region nodes and balancers (default: free ports)
  --primary REGION       region of the PostgreSQL primary and the global Redis (default us-east,
                         or the first region)
  --replicas LIST        regions with a streaming replica (default: every other region)
  --no-wan               no simulated WAN delays
  --edge-secret          region nodes require x-edge-secret (only the edge can reach them)
  --redis-cluster        each region's Redis is a Redis Cluster of 6 redis-server processes (3 masters,
                         3 replicas); bus appends between regions then skip the WAN delay
  --dir DIR              state and logs folder (default .sim)
  -h, --help             this text
`;

const portSchema = z.coerce.number().int().min(0).max(65_535);

export { UsageError };

/** Parses `npm start` arguments; throws a UsageError with one line saying what is wrong. */
export function parseSimOptions(
  argv: string[],
  env: Record<string, string | undefined>,
): SimOptions | 'help' {
  const values = parseCliArgs(argv, {
    regions: { type: 'string' },
    nodes: { type: 'string' },
    'edge-port': { type: 'string' },
    'base-port': { type: 'string' },
    primary: { type: 'string' },
    replicas: { type: 'string' },
    'no-wan': { type: 'boolean' },
    'edge-secret': { type: 'boolean' },
    'redis-cluster': { type: 'boolean' },
    dir: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const regions = list(values.regions) ?? DEFAULT_REGIONS;
  for (const id of regions) {
    if (!REGION_CATALOG[id]) throw new UsageError(`--regions: unknown region ${id}`);
  }
  if (new Set(regions).size !== regions.length) throw new UsageError('--regions: a region is listed twice');
  const primaryRegion = values.primary ?? (regions.includes('us-east') ? 'us-east' : regions[0]!);
  if (!regions.includes(primaryRegion))
    throw new UsageError(`--primary: ${primaryRegion} is not one of --regions`);
  const replicaRegions = list(values.replicas) ?? regions.filter((r) => r !== primaryRegion);
  for (const id of replicaRegions) {
    if (!regions.includes(id)) throw new UsageError(`--replicas: ${id} is not one of --regions`);
  }
  const nodes = z.coerce
    .number()
    .int()
    .min(1)
    .max(16)
    .safeParse(values.nodes ?? '2');
  if (!nodes.success) throw new UsageError('--nodes: must be a whole number from 1 to 16');
  const edgePort = portSchema.safeParse(values['edge-port'] ?? env.EDGE_PORT ?? '8787');
  if (!edgePort.success) throw new UsageError('--edge-port (or EDGE_PORT): must be a port number');
  const basePort = portSchema.safeParse(values['base-port'] ?? '0');
  if (!basePort.success) throw new UsageError('--base-port: must be a port number');
  return {
    regions,
    nodesPerRegion: nodes.data,
    edgePort: edgePort.data,
    basePort: basePort.data,
    wan: !values['no-wan'],
    primaryRegion,
    replicaRegions,
    edgeSecret: Boolean(values['edge-secret']),
    redisCluster: Boolean(values['redis-cluster']),
    dir: values.dir ?? '.sim',
  };
}

function list(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}
