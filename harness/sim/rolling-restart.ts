import type { RegionBalancer } from '../processes/haproxy';
import type { LocalNode } from '../world/node';

/** How long a simulated node's drain waits for its clients (DRAIN_TIMEOUT_MS). */
export const NODE_DRAIN_MS = 2_000;

export interface RollingRestartParts {
  nodes: LocalNode[];
  balancer: RegionBalancer;
  /** Processes stopped here are added, so their exit is not reported as unexpected. */
  stoppedOnPurpose: WeakSet<object>;
  report: (line: string) => void;
  /** Called after each node was replaced (to record its new pid). */
  replaced: (node: LocalNode) => Promise<void>;
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
    await node.restart();
    await waitUntil(
      async () => (await parts.balancer.serverState(node.id)) === 'UP',
      `HAProxy to put ${node.id} back in rotation`,
    );
    await parts.replaced(node);
    parts.report(`${node.id}: pid ${node.pid} ready and in rotation (${Date.now() - step} ms)`);
  }
  return { ms: Date.now() - began };
}

/**
 * `Platform.restartRegion`: one rolling restart at a time, never while the simulation stops;
 * `replaced` records each node's new process.
 */
export function regionRestarter(parts: {
  regions: readonly { id: string; nodes: LocalNode[]; balancer?: RegionBalancer }[];
  stoppedOnPurpose: WeakSet<object>;
  isStopping: () => boolean;
  replaced: (node: LocalNode) => Promise<void>;
}): (region: string, report: (line: string) => void) => Promise<{ ms: number }> {
  let restarting: string | undefined;
  return async (region, report) => {
    const target = parts.regions.find((r) => r.id === region);
    if (!target)
      throw new Error(
        `no region ${region} in this simulation (${parts.regions.map((r) => r.id).join(', ')})`,
      );
    if (restarting) throw new Error(`a rolling restart of ${restarting} is running`);
    if (parts.isStopping()) throw new Error('the simulation is stopping');
    restarting = region;
    try {
      const { stoppedOnPurpose, replaced } = parts;
      return await rollRegion({
        nodes: target.nodes,
        balancer: target.balancer!,
        stoppedOnPurpose,
        report,
        replaced,
      });
    } finally {
      restarting = undefined;
    }
  };
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
