import { describe, expect, it } from 'vitest';
import { shardOfRoom } from '../../regions/bus';
import { RedisRecentHistory } from '../../regions/history';
import {
  recentBounds,
  recentEnvelope,
  recentHistoryConformance,
} from '../../regions/history/recent-conformance';
import { keys } from '../../regions/keyspace';
import { encodeEnvelope, newEnvelopeId, type EnvelopeId } from '../../shared';
import { clusterForFile } from './cluster-for-file';

/** The default `BUS_SHARDS`: a room's recent-history group is its bus shard. */
const GROUPS = 8;

const file = clusterForFile();
const errors: Error[] = [];

recentHistoryConformance(
  'Redis Cluster (3 masters, 3 replicas)',
  async (bounds) => {
    await file.flushMasters();
    return new RedisRecentHistory(file.client, bounds, (err) => errors.push(err), GROUPS);
  },
  { groups: GROUPS },
);

/** A room of each group. */
function oneRoomPerGroup(): string[] {
  const rooms = new Map<number, string>();
  for (let n = 0; rooms.size < GROUPS; n++) {
    const room = `chat:spread-${n}`;
    if (!rooms.has(shardOfRoom(room, GROUPS))) rooms.set(shardOfRoom(room, GROUPS), room);
  }
  return [...rooms.values()];
}

describe('the recent-history buffers on a Redis Cluster', () => {
  it("spreads the rooms' buffers and their bounds over the masters, and reads each back from its group", async () => {
    await file.flushMasters();
    const recent = new RedisRecentHistory(file.client, recentBounds(), (err) => errors.push(err), GROUPS);
    const rooms = oneRoomPerGroup();
    // One batch over every group, as a node appends a batch of deliveries to several rooms.
    const envelopes = rooms.flatMap((room) => [recentEnvelope(room, 1), recentEnvelope(room, 2)]);
    recent.append(envelopes.map((envelope) => encodeEnvelope(envelope)));
    await recent.settled();
    expect(errors).toEqual([]);

    const holding = await Promise.all(
      file.client.nodes('master').map(async (node) => {
        const [, found] = await node.scan('0', 'MATCH', 'rt:*recent*', 'COUNT', 10_000);
        return found;
      }),
    );
    // More than one master holds buffers; each group's buffer sits beside its group's bookkeeping.
    expect(holding.filter((found) => found.length > 0).length).toBeGreaterThan(1);
    expect(holding.flat().sort()).toEqual(
      rooms
        .flatMap((room) => {
          const group = shardOfRoom(room, GROUPS);
          return [keys.groupRecent(group, room), keys.groupRecentRooms(group), keys.groupRecentBytes(group)];
        })
        .sort(),
    );
    for (const room of rooms) {
      const back = await recent.readBack(room, newEnvelopeId() as EnvelopeId);
      expect(back.map((b) => JSON.parse(b.envelope.json).data)).toEqual([2, 1]);
    }
  });

  it('holds at most the total over the groups in each group', async () => {
    await file.flushMasters();
    const rooms = Array.from({ length: 40 }, (_, n) => `chat:bound-${String(n).padStart(2, '0')}`);
    const one = JSON.stringify(recentEnvelope(rooms[0]!, 'x'.repeat(500))).length;
    // Room for 16 envelopes in the region: two per group.
    const recent = new RedisRecentHistory(
      file.client,
      recentBounds({ totalMaxBytes: 16 * one + 8 * 10 }),
      (err) => errors.push(err),
      GROUPS,
    );
    for (const room of rooms) recent.append([encodeEnvelope(recentEnvelope(room, 'x'.repeat(500)))]);
    await recent.settled();
    const groups = new Set(rooms.map((room) => shardOfRoom(room, GROUPS)));
    for (const group of groups) {
      const total = Number(await file.client.hget(keys.groupRecentBytes(group), '#total'));
      // Each group keeps its newest rooms up to its share: two envelopes.
      expect(total).toBe(2 * one);
    }
    expect(errors).toEqual([]);
  });
});
