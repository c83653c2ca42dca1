import { startWanRelay, type WanRelay } from '../processes/wan-relay';

/** A region of a local world, as the bus's peer links need it. */
export interface PeerRegion {
  id: string;
  /** Loopback port of the region's Redis, which holds its inbound shards. */
  redisPort: number;
}

/**
 * The links of the bus between regions: for every ordered pair (from, to), a WAN relay from a
 * loopback port to `to`'s Redis with the one-way delay of that path, which `from`'s nodes reach
 * `to`'s inbound shards through (`BUS_PEERS`). Used by the simulation, the benchmark and the tests,
 * which cut and restore single links to stage a partition.
 */
export interface PeerLinks {
  /** `BUS_PEERS` for the nodes of `region`: every other region, through its link from `region`. */
  busPeers(region: string): string;
  /** The relay of the link from `from` to `to`. */
  link(from: string, to: string): WanRelay;
  /** Partitions the link: open connections are dropped and new ones refused until `restore`. */
  cut(from: string, to: string): Promise<void>;
  /** Ends a `cut`: the link listens again on the same port. */
  restore(from: string, to: string): Promise<void>;
  /** The link hangs: connections stay open and nothing passes until `thaw`, which delivers it all. */
  freeze(from: string, to: string): void;
  thaw(from: string, to: string): void;
  close(): Promise<void>;
}

export async function startPeerLinks(
  regions: readonly PeerRegion[],
  delayMs: (from: string, to: string) => number,
): Promise<PeerLinks> {
  const relays = new Map<string, WanRelay>();
  const cutLinks = new Set<string>();
  const key = (from: string, to: string) => `${from}>${to}`;
  const portOf = (to: string) => {
    const target = regions.find((r) => r.id === to);
    if (!target) throw new Error(`no region ${to} in this world`);
    return target.redisPort;
  };
  const link = (from: string, to: string) => {
    const relay = relays.get(key(from, to));
    if (!relay) throw new Error(`no bus link ${from} > ${to}`);
    return relay;
  };
  const close = async () => {
    await Promise.all([...relays].filter(([k]) => !cutLinks.has(k)).map(([, relay]) => relay.close()));
    relays.clear();
  };
  try {
    for (const from of regions)
      for (const to of regions)
        if (from.id !== to.id)
          relays.set(
            key(from.id, to.id),
            await startWanRelay({ port: to.redisPort }, delayMs(from.id, to.id)),
          );
  } catch (err) {
    await close();
    throw err;
  }
  return {
    busPeers: (region) =>
      regions
        .filter((r) => r.id !== region)
        .map((r) => `${r.id}=redis://127.0.0.1:${link(region, r.id).port}`)
        .join(','),
    link,
    cut: async (from, to) => {
      if (cutLinks.has(key(from, to))) return;
      cutLinks.add(key(from, to));
      await link(from, to).close();
    },
    restore: async (from, to) => {
      if (!cutLinks.has(key(from, to))) return;
      const old = link(from, to);
      relays.set(key(from, to), await startWanRelay({ port: portOf(to) }, old.delayMs, old.port));
      cutLinks.delete(key(from, to));
    },
    freeze: (from, to) => link(from, to).hold(),
    thaw: (from, to) => link(from, to).release(),
    close,
  };
}
