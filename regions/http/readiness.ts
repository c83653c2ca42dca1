type Check = () => Promise<string> | string;

/**
 * The dependencies `/readyz` reports, each 'up' or another state. Only critical ones make the node
 * not ready: live delivery goes on without the rest, and a history or global-bus outage must not pull
 * every node out of the load balancer.
 */
export class Readiness {
  private readonly checks = new Map<string, { check: Check; critical: boolean }>();

  add(name: string, check: Check, critical = false): void {
    this.checks.set(name, { check, critical });
  }

  async report(draining: boolean): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const checks: Record<string, string> = {};
    let ready = !draining;
    for (const [name, { check, critical }] of this.checks) {
      checks[name] = await check();
      if (critical && checks[name] !== 'up') ready = false;
    }
    if (draining) checks.node = 'draining';
    return { ready, checks };
  }
}
