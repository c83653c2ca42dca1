import type { RegionConfig } from '../config';
import { keys } from '../keyspace';
import { OUTBOX_GROUPS } from '../outbox';

/**
 * The bus's Redis keys (declared with their bounds in the keyspace module, where Redis Cluster hash
 * tags are added) and its consumer-group names. All keys live in a region's own Redis: the inbound
 * shards that peers append to, and the leases and dedup marks of the region's nodes.
 */
export const busKeys = {
  /** Inbound shard `n` of a region: envelopes of other regions for rooms hashed to `n`, in order. */
  inbound: keys.inbound,
  /** The greatest id trimming removed from inbound shard `n` (Redis keeps none for trims). */
  inboundTrimmed: keys.inboundTrimmed,
  /** Which node of the region consumes inbound shard `n` (in the dedup marks' slot: one script checks it and sets them). */
  shardLease: keys.shardLease,
  /** Which node of the region forwards its outbox to `peer`. */
  forwarderLease: keys.forwarderLease,
  /** An envelope id already emitted in this region (the publish log refuses it as a new id). */
  seen: keys.seen,
} as const;

/** The outbox consumer group that forwards this region's envelopes to `peer`. */
export function forwardGroup(peer: string): string {
  return `forward:${peer}`;
}

/** The consumer group of a region on its own inbound shards. */
export function inboundGroup(region: string): string {
  return region;
}

/** The outbox groups of a node: history, and one per peer region when the bus is on. */
export function outboxGroups(config: Pick<RegionConfig, 'globalBus' | 'bus'>): string[] {
  const peers = config.globalBus ? config.bus.peers.map((peer) => forwardGroup(peer.region)) : [];
  return [...OUTBOX_GROUPS, ...peers];
}
