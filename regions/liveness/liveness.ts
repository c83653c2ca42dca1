import { periodic, type Component } from '../lifecycle';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { NodeRegistry } from './registry';

/** How long a claim on a dead node lasts: the cleanup after it is retried by any node after this. */
const CLAIM_MS = 30_000;

export interface NodeLivenessOptions {
  registry: NodeRegistry;
  nodeId: string;
  /** How long this node counts as alive after its last renewal (PRESENCE_NODE_LEASE_MS). */
  leaseMs: number;
  /** How often the lease is renewed and dead nodes are looked for (a third of the lease or less). */
  beatMs: number;
  /** Cleans up after a dead node (each runs once per claim, in order); then it leaves the registry. */
  onDead: ((node: string) => Promise<void>)[];
  log: Logger;
  metrics: RegionMetrics;
}

/**
 * This node's place in the registry: every `beatMs` it renews its lease and cleans up after the
 * nodes whose lease ran out (one live node per dead one; failures counted as `heartbeat`). Stopping
 * removes this node at once, so the others count it out without waiting for its lease.
 */
export class NodeLiveness implements Component {
  readonly name = 'liveness';
  private readonly beats: Component;

  constructor(private readonly options: NodeLivenessOptions) {
    this.beats = periodic('heartbeat', options.beatMs, () => this.beat(), { ...options, atStart: true });
  }

  /** The first beat (its failure counted, not thrown: the node starts with the regional Redis down). */
  start(): Promise<void> {
    return this.beats.start() as Promise<void>;
  }

  /** Renews this node's lease, then cleans up after dead nodes. */
  async beat(): Promise<void> {
    const { registry, nodeId, leaseMs, onDead, log } = this.options;
    await registry.renew(nodeId, leaseMs);
    for (const node of await registry.claimDead(nodeId, CLAIM_MS)) {
      log.warn({ deadNode: node }, 'cleaning up after a node that stopped heartbeating');
      for (const cleanUp of onDead) await cleanUp(node);
      await registry.remove(node);
    }
  }

  async stop(): Promise<void> {
    await this.beats.stop();
    await this.options.registry.remove(this.options.nodeId).catch(() => undefined);
  }
}
