import type { ServerProcess } from '../processes/child';
import type { RegionBalancer } from '../processes/haproxy';

/** How long a simulated node's drain waits for its clients (DRAIN_TIMEOUT_MS). */
export const NODE_DRAIN_MS = 2_000;

/** A region node of the simulation; a rolling restart replaces `proc` with a new process. */
export interface SimNode {
  readonly id: string;
  readonly region: string;
  readonly url: string;
  readonly port: number;
  proc: ServerProcess;
  /** Starts a new process for this node (same id, port, environment and log file). */
  launch(): ServerProcess;
}

export interface RollingRestartParts {
  nodes: SimNode[];
  balancer: RegionBalancer;
  /** Processes stopped here are added, so their exit is not reported as unexpected. */
  stoppedOnPurpose: WeakSet<object>;
  report: (line: string) => void;
  /** Called after each node was replaced (to record its new pid). */
  replaced: (node: SimNode) => Promise<void>;
}

/**
 * Replaces every node of a region, one at a time, as a production rollout does: SIGTERM (the node
 * fails /readyz, tells its clients `drain` and exits once they left or after its drain timeout), a new
 * process on the same port, its /readyz 200, HAProxy seeing it up, then the next node. At most one
 * node of the region is out at any time, so sessions always have somewhere to go.
 */
export async function rollRegion(parts: RollingRestartParts): Promise<{ ms: number }> {
  const began = Date.now();
  for (const node of parts.nodes) {
    const old = node.proc;
    const step = Date.now();
    parts.report(`${node.id}: SIGTERM to pid ${old.pid}, draining (at most ${NODE_DRAIN_MS} ms) ...`);
    parts.stoppedOnPurpose.add(old);
    await old.stop(NODE_DRAIN_MS + 5_000);
    parts.report(`${node.id}: exited after ${Date.now() - step} ms; starting a new process`);
    node.proc = node.launch();
    await waitReady(node.url, node.proc, node.id);
    await waitUntil(
      async () => (await parts.balancer.serverState(node.id)) === 'UP',
      `HAProxy to put ${node.id} back in rotation`,
    );
    await parts.replaced(node);
    parts.report(`${node.id}: pid ${node.proc.pid} ready and in rotation (${Date.now() - step} ms)`);
  }
  return { ms: Date.now() - began };
}

/**
 * `Platform.restartRegion`: one rolling restart at a time, never while the simulation stops;
 * `replaced` records each node's new process.
 */
export function regionRestarter(parts: {
  nodes: Map<string, SimNode[]>;
  balancers: Map<string, RegionBalancer>;
  stoppedOnPurpose: WeakSet<object>;
  isStopping: () => boolean;
  replaced: (node: SimNode) => Promise<void>;
}): (region: string, report: (line: string) => void) => Promise<{ ms: number }> {
  let restarting: string | undefined;
  return async (region, report) => {
    const nodes = parts.nodes.get(region);
    if (!nodes)
      throw new Error(`no region ${region} in this simulation (${[...parts.nodes.keys()].join(', ')})`);
    if (restarting) throw new Error(`a rolling restart of ${restarting} is running`);
    if (parts.isStopping()) throw new Error('the simulation is stopping');
    restarting = region;
    try {
      const { stoppedOnPurpose, replaced } = parts;
      return await rollRegion({
        nodes,
        balancer: parts.balancers.get(region)!,
        stoppedOnPurpose,
        report,
        replaced,
      });
    } finally {
      restarting = undefined;
    }
  };
}

export async function waitReady(
  url: string,
  proc: ServerProcess,
  name: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null)
      throw new Error(`region node ${name} exited (${proc.child.exitCode}): ${proc.output().slice(-800)}`);
    try {
      if ((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) })).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`region node ${name} not ready after ${timeoutMs} ms`);
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
