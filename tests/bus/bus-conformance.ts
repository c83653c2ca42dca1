import { describe, expect, it } from 'vitest';
import { newEnvelopeId, type Envelope } from '../../shared';
import { BusGroupMissingError, groupStanding, type BusRetention, type InboundBus } from '../../regions/bus';

/** Makes a fresh, empty bus with `shardCount` shards keeping `maxLen` entries per shard. */
export type BusFactory = (options: { shardCount: number; retention: BusRetention }) => Promise<InboundBus>;

let sequence = 0;

function envelope(room: string, data: number): Envelope {
  return { id: newEnvelopeId(), room, data, user: 'u', origin: 'eu-west', ts: Date.now() };
}

/** Rooms that all map to `shard` of `bus`. */
function roomsOnShard(bus: InboundBus, shard: number, count: number): string[] {
  const rooms: string[] = [];
  for (let i = 0; rooms.length < count; i++) if (bus.shardOf(`room-${i}`) === shard) rooms.push(`room-${i}`);
  return rooms;
}

/**
 * The behaviour every `InboundBus` backend must show, run against each (memory, Redis Streams):
 * sharding, group hand-out, pending and acks, take-over of idle entries, waiting reads, trimming.
 */
export function globalBusConformance(name: string, makeBus: BusFactory): void {
  describe(`InboundBus conformance: ${name}`, () => {
    const open = async (shardCount = 4) => {
      const bus = await makeBus({ shardCount, retention: { maxLen: 10_000, maxAgeMs: 3600_000 } });
      const group = `g${++sequence}`;
      for (let s = 0; s < shardCount; s++) await bus.ensureGroup(s, group, 'all');
      return { bus, group };
    };

    it('routes every room to one shard and keeps publish order within it', async () => {
      const { bus, group } = await open();
      const [a, b] = roomsOnShard(bus, 2, 2) as [string, string];
      const sent = [envelope(a, 1), envelope(b, 2), envelope(a, 3)];
      const ids = await bus.publish(sent);
      expect(ids).toHaveLength(3);
      const read = await bus.readNew(2, group, 'c1', { count: 10, blockMs: 0 });
      expect(read.map((e) => e.envelope?.envelope)).toEqual(sent);
      expect(read.map((e) => e.envelope?.json)).toEqual(sent.map((e) => JSON.stringify(e)));
      expect(read.map((e) => e.id)).toEqual(ids);
      for (const other of [0, 1, 3])
        expect(await bus.readNew(other, group, 'c1', { count: 10, blockMs: 0 })).toEqual([]);
      await bus.close();
    });

    it('reads an entry back as the JSON it was appended as, decoding its data only when read', async () => {
      const { bus, group } = await open(1);
      const sent = envelope('r', 1);
      // Data in a spelling JSON.stringify would not write: a hop that parsed and re-encoded the
      // envelope would change these bytes.
      const json = JSON.stringify(sent).replace('"data":1,', '"data":[1.0, {"a" : "\\u0041"}],');
      const { id, room, user, origin, ts } = sent;
      await bus.publish([{ head: { id, room, user, origin, ts }, json }]);
      const [read] = await bus.readNew(0, group, 'c1', { count: 10, blockMs: 0 });
      expect(read?.envelope?.json).toBe(json);
      expect(read?.envelope?.envelope).toEqual({ ...sent, data: [1, { a: 'A' }] });
      await bus.close();
    });

    it('hands each entry to one consumer of a group, and every entry to every group', async () => {
      const { bus, group } = await open(1);
      const other = `${group}-other`;
      await bus.ensureGroup(0, other, 'all');
      await bus.publish([1, 2, 3, 4].map((n) => envelope('r', n)));
      const first = await bus.readNew(0, group, 'c1', { count: 2, blockMs: 0 });
      const second = await bus.readNew(0, group, 'c2', { count: 10, blockMs: 0 });
      expect([...first, ...second].map((e) => e.envelope?.envelope.data)).toEqual([1, 2, 3, 4]);
      const all = await bus.readNew(0, other, 'c1', { count: 10, blockMs: 0 });
      expect(all.map((e) => e.envelope?.envelope.data)).toEqual([1, 2, 3, 4]);
      await bus.close();
    });

    it('keeps entries pending to their consumer until acknowledged', async () => {
      const { bus, group } = await open(1);
      await bus.publish([1, 2, 3].map((n) => envelope('r', n)));
      const read = await bus.readNew(0, group, 'c1', { count: 10, blockMs: 0 });
      await bus.ack(0, group, [read[0]!.id]);
      const pending = await bus.readPending(0, group, 'c1', 10);
      expect(pending.map((e) => e.envelope?.envelope.data)).toEqual([2, 3]);
      expect(await bus.readPending(0, group, 'c2', 10)).toEqual([]);
      await bus.ack(
        0,
        group,
        pending.map((e) => e.id),
      );
      expect(await bus.readPending(0, group, 'c1', 10)).toEqual([]);
      await bus.close();
    });

    it("lets a peer take over a consumer's idle pending entries, oldest first", async () => {
      const { bus, group } = await open(1);
      await bus.publish([1, 2, 3].map((n) => envelope('r', n)));
      await bus.readNew(0, group, 'dead', { count: 10, blockMs: 0 });
      expect(await bus.claim(0, group, 'peer', 60_000, 10)).toEqual([]);
      const claimed = await bus.claim(0, group, 'peer', 0, 10);
      expect(claimed.map((e) => e.envelope?.envelope.data)).toEqual([1, 2, 3]);
      expect((await bus.readPending(0, group, 'peer', 10)).map((e) => e.envelope?.envelope.data)).toEqual([
        1, 2, 3,
      ]);
      expect(await bus.readPending(0, group, 'dead', 10)).toEqual([]);
      await bus.close();
    });

    it('waits for new entries up to blockMs, and an abort ends the wait', async () => {
      const { bus, group } = await open(1);
      const waiting = bus.readNew(0, group, 'c1', { count: 10, blockMs: 5_000 });
      await new Promise((r) => setTimeout(r, 100));
      await bus.publish([envelope('r', 7)]);
      expect((await waiting).map((e) => e.envelope?.envelope.data)).toEqual([7]);
      expect(await bus.readNew(0, group, 'c1', { count: 10, blockMs: 50 })).toEqual([]);
      const controller = new AbortController();
      const aborted = bus.readNew(0, group, 'c1', { count: 10, blockMs: 30_000, signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      expect(await aborted).toEqual([]);
      await bus.close();
    });

    it('answers waiting reads of one consumer issued together in shard order', async () => {
      const { bus, group } = await open(1);
      // The shard consumer keeps reads outstanding ahead; together they must hand out the shard in order.
      const first = bus.readNew(0, group, 'c1', { count: 10, blockMs: 5_000 });
      const second = bus.readNew(0, group, 'c1', { count: 10, blockMs: 5_000 });
      await new Promise((r) => setTimeout(r, 100));
      await bus.publish([1, 2, 3].map((n) => envelope('r', n)));
      const handed = [...(await first), ...(await second)];
      if (handed.length < 3) handed.push(...(await bus.readNew(0, group, 'c1', { count: 10, blockMs: 0 })));
      expect(handed.map((e) => e.envelope?.envelope.data)).toEqual([1, 2, 3]);
      expect((await bus.readPending(0, group, 'c1', 10)).map((e) => e.envelope?.envelope.data)).toEqual([
        1, 2, 3,
      ]);
      await bus.close();
    });

    it('starts a group from now or from the start of the shard', async () => {
      const bus = await makeBus({ shardCount: 1, retention: { maxLen: 1000, maxAgeMs: 3600_000 } });
      await bus.publish([envelope('r', 1)]);
      await bus.ensureGroup(0, 'from-now', 'new');
      await bus.ensureGroup(0, 'from-start', 'all');
      await bus.ensureGroup(0, 'from-start', 'new'); // already there: unchanged
      await bus.publish([envelope('r', 2)]);
      const fromNow = await bus.readNew(0, 'from-now', 'c', { count: 10, blockMs: 0 });
      const fromStart = await bus.readNew(0, 'from-start', 'c', { count: 10, blockMs: 0 });
      expect(fromNow.map((e) => e.envelope?.envelope.data)).toEqual([2]);
      expect(fromStart.map((e) => e.envelope?.envelope.data)).toEqual([1, 2]);
      await bus.close();
    });

    it('fails reads of a missing group with BusGroupMissingError', async () => {
      const bus = await makeBus({ shardCount: 1, retention: { maxLen: 1000, maxAgeMs: 3600_000 } });
      await bus.ensureGroup(0, 'present', 'all');
      await expect(bus.readNew(0, 'absent', 'c', { count: 1, blockMs: 0 })).rejects.toThrow(
        BusGroupMissingError,
      );
      await expect(bus.readPending(0, 'absent', 'c', 1)).rejects.toThrow(BusGroupMissingError);
      await expect(bus.position(0, 'absent')).rejects.toThrow(BusGroupMissingError);
      await bus.close();
    });

    it('tells a late group from one that trimming overtook', async () => {
      const bus = await makeBus({ shardCount: 1, retention: { maxLen: 10, maxAgeMs: 3600_000 } });
      await bus.ensureGroup(0, 'keeping-up', 'all');
      await bus.ensureGroup(0, 'absent-region', 'all');
      for (let i = 0; i < 300; i += 30) {
        await bus.publish(Array.from({ length: 30 }, (_, n) => envelope('r', i + n)));
        const read = await bus.readNew(0, 'keeping-up', 'c', { count: 100, blockMs: 0 });
        await bus.ack(
          0,
          'keeping-up',
          read.map((e) => e.id),
        );
        await bus.trim();
      }
      expect(groupStanding(await bus.position(0, 'keeping-up'))).toBe('current');
      expect(groupStanding(await bus.position(0, 'absent-region'))).toBe('fallen-behind');
      await bus.publish([envelope('r', 300)]);
      expect(groupStanding(await bus.position(0, 'keeping-up'))).toBe('late');
      // What is left after the trim is still handed out: the newest 10 and the one after.
      const rest = await bus.readNew(0, 'absent-region', 'c', { count: 1000, blockMs: 0 });
      expect(rest.map((e) => e.envelope?.envelope.data)).toEqual(
        Array.from({ length: 11 }, (_, n) => 290 + n),
      );
      expect(groupStanding(await bus.position(0, 'absent-region'))).toBe('current');
      await bus.close();
    });

    it('trims what every group acknowledged, keeping entries pending or not yet handed out', async () => {
      const { bus, group } = await open(1);
      await bus.publish(Array.from({ length: 10 }, (_, n) => envelope('r', n)));
      // Nothing read yet: everything waits for the group.
      expect(await bus.trim()).toBe(0);
      const read = await bus.readNew(0, group, 'c1', { count: 5, blockMs: 0 });
      await bus.ack(
        0,
        group,
        read.slice(0, 3).map((e) => e.id),
      );
      expect(await bus.trim()).toBe(3);
      // What is left is what a reader starting from the shard's beginning sees.
      await bus.ensureGroup(0, `${group}-audit`, 'all');
      const left = await bus.readNew(0, `${group}-audit`, 'a', { count: 100, blockMs: 0 });
      expect(left.map((e) => e.envelope?.envelope.data)).toEqual([3, 4, 5, 6, 7, 8, 9]);
      // Pending entries are still handed out again; the group is current, not fallen behind.
      expect((await bus.readPending(0, group, 'c1', 10)).map((e) => e.envelope?.envelope.data)).toEqual([
        3, 4,
      ]);
      expect(groupStanding(await bus.position(0, group))).toBe('late');
      await bus.ack(
        0,
        `${group}-audit`,
        left.map((e) => e.id),
      );
      // The group that still holds entries 3 and 4 pending keeps them (and what follows).
      expect(await bus.trim()).toBe(0);
      const rest = await bus.readNew(0, group, 'c1', { count: 100, blockMs: 0 });
      await bus.ack(
        0,
        group,
        [...read.slice(3), ...rest].map((e) => e.id),
      );
      expect(await bus.trim()).toBe(7);
      expect(groupStanding(await bus.position(0, group))).toBe('current');
      await bus.publish([envelope('r', 10)]);
      expect(
        (await bus.readNew(0, group, 'c2', { count: 10, blockMs: 0 })).map((e) => e.envelope?.envelope.data),
      ).toEqual([10]);
      await bus.close();
    });

    it('trims nothing by acknowledgement on a shard without a group', async () => {
      const bus = await makeBus({ shardCount: 1, retention: { maxLen: 1000, maxAgeMs: 3600_000 } });
      await bus.publish([envelope('r', 1), envelope('r', 2)]);
      expect(await bus.trim()).toBe(0);
      await bus.ensureGroup(0, 'late-region', 'all');
      const read = await bus.readNew(0, 'late-region', 'c', { count: 10, blockMs: 0 });
      expect(read.map((e) => e.envelope?.envelope.data)).toEqual([1, 2]);
      await bus.close();
    });

    it('trims entries older than maxAgeMs', async () => {
      const bus = await makeBus({ shardCount: 1, retention: { maxLen: 1000, maxAgeMs: 60_000 } });
      await bus.ensureGroup(0, 'g', 'new');
      await bus.publish([envelope('r', 1), envelope('r', 2)]);
      expect(await bus.trim(Date.now())).toBe(0);
      expect(await bus.trim(Date.now() + 120_000)).toBe(2);
      expect(groupStanding(await bus.position(0, 'g'))).toBe('fallen-behind');
      await bus.close();
    });
  });
}
