import type { JsonValue, PresenceMember } from '../../shared';

/** What the presence store needs to know about timing (config: PRESENCE_*). */
export interface PresenceTiming {
  /** How long a member with no connection left stays listed before it leaves (reconnects inside it send nothing). */
  leaveGraceMs: number;
  /** How long a node counts as alive after its last heartbeat. */
  nodeLeaseMs: number;
}

/** A member's transition, as the store reports it. */
export interface PresenceChange {
  room: string;
  user: string;
}

/** A page of a room's members in one region, and how many there are. */
export interface RegionMembers {
  members: PresenceMember[];
  count: number;
}

/**
 * Room presence in one region, as one node of it sees it: one member per user however many
 * connections and nodes, listed in join order with an exact count. A member whose last connection
 * goes is due to leave after the grace, and a connection back inside it cancels that (no leave, no
 * second join). Each node records what it holds, so a live node can take a dead one's connections off. Backends: `RegionalPresence` (the node's, in the regional Redis) and
 * `MemoryPresence` (in-process tests); `presence-conformance.ts` runs on both.
 */
export interface PresenceStore {
  /** Records a connection in the room; true when the user became a member (not back within the grace). */
  add(room: string, user: string, info: Record<string, JsonValue> | undefined): Promise<boolean>;
  /** Takes a connection out of the room; when it was the user's last, the leave grace starts. */
  remove(room: string, user: string): Promise<void>;
  /** The first `limit` members (in join order) with their info, and the exact count. */
  members(room: string, limit: number): Promise<RegionMembers>;
  /** Members whose grace ran out with no connection back: removed, and returned once to announce. */
  expireLeaving(): Promise<PresenceChange[]>;
  /** Rooms where this node holds connections now. */
  roomsOfNode(): Promise<string[]>;
  /**
   * Takes every connection a node held off its rooms: this node's (stopping: its members get the
   * grace) or a dead one's (found by the node registry, `NodeLiveness`: its members leave at the next
   * sweep).
   */
  removeNode(nodeId?: string): Promise<void>;
}
