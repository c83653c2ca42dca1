import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderHaproxyConfig } from '../../infra/deploy/haproxy/render';
import { startServerProcess, type ServerProcess } from './child';
import { freePort, waitForPort } from './ports';
import { ensureHaproxy } from './system-programs';

export interface BalancedNode {
  id: string;
  url: string;
}

/** A region's load balancer: a real HAProxy from the deploy files' template. */
export interface RegionBalancer {
  readonly url: string;
  readonly port: number;
  /** HAProxy's own Prometheus endpoint. */
  readonly metricsUrl: string;
  readonly metricsPort: number;
  readonly pid: number;
  /** The rendered configuration file. */
  readonly configFile: string;
  /** HAProxy's state of a node (UP, DOWN, NOLB, MAINT, DRAIN), from its Prometheus endpoint. */
  serverState(nodeId: string): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface RegionBalancerOptions {
  region: string;
  nodes: BalancedNode[];
  port?: number;
  metricsPort?: number;
  logFile?: string;
}

/**
 * Starts HAProxy in front of `nodes` with infra/deploy/haproxy/haproxy.cfg.template: new sessions
 * round-robin over nodes whose `/readyz` answers 200; every request of a session goes to the node its
 * id names; WebSocket upgrades pass through.
 */
export async function startRegionBalancer(options: RegionBalancerOptions): Promise<RegionBalancer> {
  ensureHaproxy();
  const port = options.port ?? (await freePort());
  const metricsPort = options.metricsPort ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'rt-haproxy-'));
  const configFile = join(dir, 'haproxy.cfg');
  await writeFile(
    configFile,
    renderHaproxyConfig({
      region: options.region,
      bind: `127.0.0.1:${port}`,
      operatorBind: `127.0.0.1:${metricsPort}`,
      // Within the file-descriptor limit of an ordinary shell (each connection takes two).
      maxconn: 4_000,
      nodes: options.nodes.map((n) => ({ id: n.id, address: new URL(n.url).host })),
    }),
  );
  // A configuration error is reported as HAProxy words it, before anything listens.
  execFileSync('haproxy', ['-c', '-q', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  const proc: ServerProcess = startServerProcess('haproxy', ['-db', '-f', configFile], {
    ...(options.logFile ? { logFile: options.logFile } : {}),
  });
  const early = proc.exited.then((code) => {
    throw new Error(`haproxy for ${options.region} exited (${code}): ${proc.output().slice(-800)}`);
  });
  await Promise.race([Promise.all([waitForPort(port), waitForPort(metricsPort)]), early]);
  early.catch(() => undefined);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    metricsPort,
    pid: proc.pid,
    configFile,
    async serverState(nodeId) {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      for (const [, server, state] of text.matchAll(
        /^haproxy_server_status\{proxy="nodes",server="([^"]+)",state="(\w+)"\} 1$/gm,
      ))
        if (server === nodeId) return state;
      return undefined;
    },
    async close() {
      await proc.stop(2_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
