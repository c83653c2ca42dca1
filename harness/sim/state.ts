/** `.sim/state.json`: what runs where, written once everything is ready (contract: DESIGN.md §3). */
export interface SimState {
  edge: string;
  jwtSecret: string;
  /** Set when region nodes require `x-edge-secret` (`--edge-secret`). */
  edgeSecret?: string;
  /** A key of `SERVER_API_KEYS` that the edge and every node accept (header `x-api-key`). */
  serverApiKey: string;
  startupMs: number;
  globalRedis: { url: string; pid: number };
  postgres: {
    primary: { url: string; pid: number; region: string };
    replicas: { url: string; pid: number; region: string }[];
  };
  regions: {
    id: string;
    lat: number;
    lon: number;
    /** The region's balancer (HAProxy): what the edge routes to. */
    url: string;
    /** HAProxy's process and its Prometheus endpoint. */
    balancer?: { pid: number; metricsUrl: string };
    redis: { url: string; pid: number };
    nodes: { id: string; url: string; pid: number }[];
  }[];
  wan: { enabled: boolean; oneWayMs: Record<string, number> };
  /** Every process the simulation started, one line each. */
  processes: { role: string; region?: string; url: string; port: number; pid: number }[];
}
