import type { JsonValue, PresenceMember } from '../../shared';
import type { PresenceChange, PresenceStore, PresenceTiming, RegionMembers } from './store';

interface Member {
  joinedAt: number;
  /** (socket, room) pairs of the user in the region. */
  connections: number;
  info: Record<string, JsonValue> | undefined;
}

/** One region's presence in memory, shared by the `MemoryPresence` of each of its nodes. */
export interface MemoryPresenceRegion {
  /** room -> user -> member, in join order. */
  rooms: Map<string, Map<string, Member>>;
  /** "room|user" -> when the member leaves (its grace ran out). */
  leaving: Map<string, number>;
  /** node -> "room|user" -> connections the node holds. */
  held: Map<string, Map<string, number>>;
}

export function memoryPresenceRegion(): MemoryPresenceRegion {
  return { rooms: new Map(), leaving: new Map(), held: new Map() };
}

/**
 * Presence of one node in a region held in memory, for in-process tests and embedding: the same
 * rules as `RegionalPresence` (`presence-conformance.ts` runs on both). Nodes of one region share
 * one `MemoryPresenceRegion`.
 */
export class MemoryPresence implements PresenceStore {
  constructor(
    private readonly regionId: string,
    private readonly nodeId: string,
    private readonly timing: PresenceTiming,
    private readonly region: MemoryPresenceRegion = memoryPresenceRegion(),
    private readonly now: () => number = Date.now,
  ) {}

  async add(room: string, user: string, info: Record<string, JsonValue> | undefined): Promise<boolean> {
    const members = this.region.rooms.get(room) ?? new Map<string, Member>();
    this.region.rooms.set(room, members);
    const member = members.get(user);
    const key = entry(room, user);
    const held = this.heldBy(this.nodeId);
    held.set(key, (held.get(key) ?? 0) + 1);
    this.region.leaving.delete(key);
    if (member) {
      member.connections++;
      if (info) member.info = info;
      return false;
    }
    members.set(user, { joinedAt: this.now(), connections: 1, info });
    return true;
  }

  async remove(room: string, user: string): Promise<void> {
    this.release(room, user, 1, this.timing.leaveGraceMs);
    const held = this.heldBy(this.nodeId);
    const key = entry(room, user);
    const left = (held.get(key) ?? 0) - 1;
    if (left > 0) held.set(key, left);
    else held.delete(key);
  }

  async members(room: string, limit: number): Promise<RegionMembers> {
    const members = this.region.rooms.get(room) ?? new Map<string, Member>();
    const page = [...members].slice(0, Math.max(0, limit));
    return {
      members: page.map(([user, { info }]): PresenceMember =>
        info ? { user, region: this.regionId, info } : { user, region: this.regionId },
      ),
      count: members.size,
    };
  }

  async expireLeaving(): Promise<PresenceChange[]> {
    const now = this.now();
    const left: PresenceChange[] = [];
    for (const [key, due] of this.region.leaving) {
      if (due > now) continue;
      this.region.leaving.delete(key);
      const { room, user } = parseEntry(key);
      const members = this.region.rooms.get(room);
      const member = members?.get(user);
      if (!members || !member || member.connections > 0) continue;
      members.delete(user);
      if (members.size === 0) this.region.rooms.delete(room);
      left.push({ room, user });
    }
    return left;
  }

  async roomsOfNode(): Promise<string[]> {
    return [...new Set([...this.heldBy(this.nodeId).keys()].map((key) => parseEntry(key).room))];
  }

  async removeNode(nodeId = this.nodeId): Promise<void> {
    const graceMs = nodeId === this.nodeId ? this.timing.leaveGraceMs : 0;
    for (const [key, connections] of this.heldBy(nodeId)) {
      const { room, user } = parseEntry(key);
      if (connections > 0) this.release(room, user, connections, graceMs);
    }
    this.region.held.delete(nodeId);
  }

  private release(room: string, user: string, connections: number, graceMs: number): void {
    const member = this.region.rooms.get(room)?.get(user);
    if (!member) return;
    member.connections = Math.max(0, member.connections - connections);
    if (member.connections === 0) this.region.leaving.set(entry(room, user), this.now() + graceMs);
  }

  private heldBy(nodeId: string): Map<string, number> {
    const held = this.region.held.get(nodeId) ?? new Map<string, number>();
    this.region.held.set(nodeId, held);
    return held;
  }
}

function entry(room: string, user: string): string {
  return `${room}|${user}`;
}

function parseEntry(key: string): PresenceChange {
  const at = key.indexOf('|');
  return { room: key.slice(0, at), user: key.slice(at + 1) };
}
