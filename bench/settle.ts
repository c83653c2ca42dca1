import type { BenchPlatform } from './platforms';

/** BUS_SHARDS of the region nodes (their default; the bench does not change it). */
const BUS_SHARDS = 8;

/**
 * Waits until our platform's bus is steady: in every region one forwarder per peer region is active
 * and the shards are spread evenly over the nodes, unchanged across two readings of every node's /metrics. Right
 * after start a node may hold every shard and hand them over one lease round at a time; measuring then
 * would measure the take-over, not the platform. Gives up (and says so) after `timeoutMs`.
 */
export async function waitForSteadyBus(
  platform: BenchPlatform,
  say: (line: string) => void,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let previous = '';
  while (Date.now() < deadline) {
    const snapshot = await Promise.all(
      platform.regions.map(async (region) => {
        const nodes = await Promise.all(region.nodes.map((n) => busGauges(n.url)));
        const fair = Math.ceil(BUS_SHARDS / region.nodes.length);
        const steady =
          // One forwarder per peer region in each region.
          nodes.reduce((sum, n) => sum + n.forwarders, 0) === platform.regions.length - 1 &&
          nodes.reduce((sum, n) => sum + n.shards, 0) === BUS_SHARDS &&
          nodes.every((n) => n.shards <= fair);
        return { steady, shape: `${region.id}:${nodes.map((n) => `${n.shards}/${n.forwarders}`).join(',')}` };
      }),
    );
    const shape = snapshot.map((s) => s.shape).join(' ');
    if (snapshot.every((s) => s.steady) && shape === previous) {
      say(`bus steady (shards/forwarder per node: ${shape})`);
      return true;
    }
    previous = shape;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  say(`bus not steady after ${timeoutMs / 1000} s (${previous}); measuring anyway`);
  return false;
}

async function busGauges(url: string): Promise<{ shards: number; forwarders: number }> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    // The sum over a gauge's samples (the forwarder gauge has one per peer region).
    const gauge = (name: string) => {
      const samples = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'gm'))];
      return samples.length === 0 ? Number.NaN : samples.reduce((sum, m) => sum + Number(m[1]), 0);
    };
    return { shards: gauge('rt_bus_shards_owned'), forwarders: gauge('rt_bus_forwarder_active') };
  } catch {
    return { shards: Number.NaN, forwarders: Number.NaN };
  }
}
