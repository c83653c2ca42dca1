import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { ProtocolError, newEnvelopeId, type Envelope, type EnvelopeId } from '../../shared';
import { shardOfRoom } from '../bus/bus';
import type { PublishLog, PublishLogRules } from './log';

/** A fresh, empty publish log with `rules`, what the bus would do, and what the outbox holds. */
export interface PublishLogFixture {
  log: PublishLog;
  /** Marks `id` as delivered here from another region (what the bus consumer sets). */
  markSeen(id: EnvelopeId): Promise<void>;
  /**
   * The envelopes appended to the outbox: in acceptance order for the rooms of one outbox stream
   * (on a Redis Cluster one stream per publish group; several are merged by stream id).
   */
  appended(): Promise<Envelope[]>;
  /**
   * What an accept of `envelope` leaves behind when its node dies in the middle: nothing for a
   * backend that accepts in one atomic step; on a Redis Cluster the first step (the id claim and the
   * rate count) without the second (the group's record and append).
   */
  acceptInterrupted(envelope: Envelope): Promise<void>;
}

export type PublishLogFactory = (rules: PublishLogRules) => Promise<PublishLogFixture>;

export const CONFORMANCE_RULES: PublishLogRules = {
  publishRatePerUser: 1_000,
  ephemeralRatePerUser: 1_000,
  idempotencyWindowMs: 60_000,
  idFutureMs: 5_000,
};

let counter = 0;

export function envelopeFor(over: Partial<Envelope> = {}): Envelope {
  return {
    id: newEnvelopeId(),
    room: 'room',
    data: { n: ++counter },
    user: 'alice',
    origin: 'eu-west',
    ts: Date.now(),
    ...over,
  };
}

/** An id made at `msecs` (a UUIDv7 carries its time). */
export function idAt(msecs: number): EnvelopeId {
  return uuidv7({ msecs }) as EnvelopeId;
}

async function refusal(attempt: Promise<unknown>): Promise<string> {
  try {
    await attempt;
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
  return 'accepted';
}

/** A room whose bus shard (its publish group on a Redis Cluster, of the default 8) differs from `room`'s. */
export function roomInAnotherGroup(room: string): string {
  for (let n = 0; ; n++) {
    const other = `${room}-other-${n}`;
    if (shardOfRoom(other, 8) !== shardOfRoom(room, 8)) return other;
  }
}

/** Waits for the start of a second with room for a few publishes, so a rate window is not split. */
async function freshSecond(): Promise<void> {
  const left = 1000 - (Date.now() % 1000);
  if (left < 400) await new Promise((resolve) => setTimeout(resolve, left + 5));
}

/**
 * The behaviour every `PublishLog` backend must show (memory and Redis): one accept per id, retries
 * answered with the first ack, the envelope-id rule, the per-user rates, ephemeral entries marked.
 */
export function publishLogConformance(name: string, open: PublishLogFactory): void {
  describe(`PublishLog conformance: ${name}`, () => {
    it('appends a fresh envelope once, in acceptance order, and answers with its encoding', async () => {
      const { log, appended } = await open(CONFORMANCE_RULES);
      const first = envelopeFor();
      const second = envelopeFor();
      const result = await log.accept(first);
      expect(result).toEqual({ fresh: true, encoded: { envelope: first, json: JSON.stringify(first) } });
      await log.accept(second);
      expect(await appended()).toEqual([first, second]);
    });

    it('answers a retry (same id, user and room) with the first ack and appends nothing', async () => {
      const { log, appended } = await open(CONFORMANCE_RULES);
      const first = envelopeFor();
      await log.accept(first);
      const retry = { ...first, data: 'changed', ts: first.ts + 500 };
      expect(await log.accept(retry)).toEqual({ fresh: false, firstAck: { id: first.id, ts: first.ts } });
      expect(await appended()).toEqual([first]);
    });

    it('refuses an id first accepted for another user or another room, leaving the original alone', async () => {
      const { log, appended } = await open(CONFORMANCE_RULES);
      const original = envelopeFor({ user: 'alice', room: 'a' });
      await log.accept(original);
      expect(await refusal(log.accept({ ...original, user: 'mallory', data: 'forged' }))).toBe('invalid');
      expect(await refusal(log.accept({ ...original, room: 'b', data: 'forged' }))).toBe('invalid');
      expect(await log.accept({ ...original })).toMatchObject({ fresh: false });
      expect(await appended()).toEqual([original]);
    });

    it('refuses an id reused by another user in a room of another publish group, leaving the original alone', async () => {
      const { log, appended } = await open(CONFORMANCE_RULES);
      const original = envelopeFor({ user: 'alice', room: 'a' });
      await log.accept(original);
      const elsewhere = roomInAnotherGroup('a');
      expect(
        await refusal(log.accept({ ...original, user: 'mallory', room: elsewhere, data: 'forged' })),
      ).toBe('invalid');
      // The other way round too: the id first accepted in the other group, reused in the first.
      const second = envelopeFor({ user: 'bob', room: elsewhere });
      await log.accept(second);
      expect(await refusal(log.accept({ ...second, user: 'mallory', room: 'a', data: 'forged' }))).toBe(
        'invalid',
      );
      expect(await log.accept({ ...original })).toEqual({
        fresh: false,
        firstAck: { id: original.id, ts: original.ts },
      });
      // Two publish groups on a Redis Cluster: no order between them.
      const stored = await appended();
      expect(stored).toHaveLength(2);
      expect(stored).toEqual(expect.arrayContaining([original, second]));
    });

    it('appends a publish interrupted by a crash exactly once when it is retried', async () => {
      const { log, appended, acceptInterrupted } = await open(CONFORMANCE_RULES);
      const envelope = envelopeFor({ room: 'crash' });
      await acceptInterrupted(envelope);
      expect(await log.accept(envelope)).toMatchObject({ fresh: true });
      expect(await log.accept({ ...envelope })).toEqual({
        fresh: false,
        firstAck: { id: envelope.id, ts: envelope.ts },
      });
      expect(await appended()).toEqual([envelope]);
    });

    it('refuses an id that already arrived here from another region', async () => {
      const { log, appended, markSeen } = await open(CONFORMANCE_RULES);
      const remote = envelopeFor({ user: 'alice', origin: 'us-east' });
      await markSeen(remote.id);
      expect(await refusal(log.accept({ ...remote, user: 'mallory', origin: 'eu-west' }))).toBe('invalid');
      const elsewhere = {
        ...remote,
        user: 'mallory',
        origin: 'eu-west',
        room: roomInAnotherGroup(remote.room),
      };
      expect(await refusal(log.accept(elsewhere))).toBe('invalid');
      // Not even its own user can publish it here as new.
      expect(await refusal(log.accept({ ...remote, origin: 'eu-west' }))).toBe('invalid');
      expect(await appended()).toEqual([]);
    });

    it('refuses ids made before the idempotency window or too far in the future', async () => {
      const { log, appended } = await open(CONFORMANCE_RULES);
      const now = Date.now();
      const { idempotencyWindowMs, idFutureMs } = CONFORMANCE_RULES;
      expect(await refusal(log.accept(envelopeFor({ id: idAt(now - idempotencyWindowMs - 1_000) })))).toBe(
        'invalid',
      );
      expect(await refusal(log.accept(envelopeFor({ id: idAt(now + idFutureMs + 1_000) })))).toBe('invalid');
      const inside = [
        envelopeFor({ id: idAt(now - idempotencyWindowMs + 5_000) }),
        envelopeFor({ id: idAt(now + idFutureMs - 1_000) }),
      ];
      for (const envelope of inside) expect(await log.accept(envelope)).toMatchObject({ fresh: true });
      expect(await appended()).toEqual(inside);
    });

    it('limits publishes per user and second, ephemeral ones apart, never a retry or an unlimited publish', async () => {
      const { log, appended } = await open({
        ...CONFORMANCE_RULES,
        publishRatePerUser: 3,
        ephemeralRatePerUser: 2,
      });
      await freshSecond();
      const stored = [envelopeFor(), envelopeFor(), envelopeFor()];
      for (const envelope of stored) await log.accept(envelope);
      expect(await refusal(log.accept(envelopeFor()))).toBe('rate_limited');
      expect(await log.accept(stored[0]!)).toMatchObject({ fresh: false });
      expect(await log.accept(envelopeFor({ user: 'bob' }))).toMatchObject({ fresh: true });
      const ephemeral = [envelopeFor({ ephemeral: true }), envelopeFor({ ephemeral: true })];
      for (const envelope of ephemeral) await log.accept(envelope);
      expect(await refusal(log.accept(envelopeFor({ ephemeral: true })))).toBe('rate_limited');
      expect(await log.accept(envelopeFor(), { rateLimited: false })).toMatchObject({ fresh: true });
      expect((await appended()).map((e) => e.id)).toHaveLength(7);
    });

    it('keeps the ephemeral mark on the appended envelope', async () => {
      const { log, appended } = await open(CONFORMANCE_RULES);
      const live = envelopeFor({ ephemeral: true });
      const stored = envelopeFor();
      await log.accept(live);
      await log.accept(stored);
      expect(await appended()).toEqual([live, stored]);
    });
  });
}
