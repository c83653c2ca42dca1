import type { RedisClient } from '../redis';
import { decodeEntry, decodeEntryText, type EnvelopeText, type Envelope } from '../../shared';
import type { GroupEntry, GroupStream, ReadNewOptions } from '../streams/group-stream';
import { keys } from '../keyspace';

/** The region's durable queue: a Redis stream in the regional Redis. */
export const OUTBOX_STREAM = keys.outbox();

/**
 * Consumer groups that always read the outbox; the node adds one per peer region the bus forwards
 * to (`forward:{peer}`). Each must see every entry: the outbox is trimmed only below what all of
 * the configured groups have acknowledged (see `trimAcknowledged`).
 */
export const OUTBOX_GROUPS = ['history'] as const;
export type OutboxGroup = string;

/** One outbox entry as RedisClient returns it: stream id and flat field list. */
export type OutboxEntry = [streamId: string, fields: string[]];

/**
 * The region's outbox: every envelope accepted in this region is appended here (by the publish log,
 * in the same step as its id claim) before it is emitted or acked. Consumers read it through their
 * consumer group with `reader`: `forward:{peer}` moves envelopes to a peer region, `history` writes
 * them to Postgres; each survives an outage of what it feeds, because entries stay until acknowledged.
 *
 * The groups are the ones this node's configuration runs (`history`, plus one per bus peer), and
 * `trimAcknowledged` trims below what all of them acknowledged, so a region without the bus
 * (`GLOBAL_BUS=off`) is trimmed by its history writer's progress alone.
 */
export class RegionalOutbox {
  private readonly groups: readonly OutboxGroup[];

  constructor(
    private readonly redis: RedisClient,
    groups: readonly OutboxGroup[] = OUTBOX_GROUPS,
  ) {
    this.groups = [...groups];
    // A restarted Redis may come back empty: re-create the groups.
    redis.on('ready', () => void this.ensureGroups().catch(() => undefined));
  }

  /** Creates the stream and every configured group if missing (idempotent). */
  async ensureGroups(): Promise<void> {
    for (const group of this.groups) await this.createGroup(group);
  }

  private async createGroup(group: OutboxGroup): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', OUTBOX_STREAM, group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  /** The read side of `group` for `consumer`; blocking reads go through `connection` (a dedicated one). */
  reader(group: OutboxGroup, consumer: string, connection: RedisClient = this.redis): OutboxReader {
    return new OutboxReader(this.redis, connection, group, consumer);
  }

  /**
   * Trims entries every configured group has acknowledged: below the smallest of each group's oldest
   * pending entry and next undelivered entry (nothing while a group is missing, e.g. just after a
   * Redis restart). Groups of other configurations (a peer no longer configured) do not hold it back.
   * Returns how many entries were removed.
   */
  async trimAcknowledged(): Promise<number> {
    const existing = await this.groupInfo();
    let floor: string | undefined;
    for (const group of this.groups) {
      const info = existing.find((g) => g.name === group);
      if (!info) return 0;
      const pending = (await this.redis.xpending(OUTBOX_STREAM, group)) as [
        number,
        string | null,
        ...unknown[],
      ];
      // Entries up to last-delivered-id were handed out; those still pending stay.
      const candidate = pending[0] > 0 && pending[1] ? pending[1] : nextId(String(info['last-delivered-id']));
      if (floor === undefined || compareIds(candidate, floor) < 0) floor = candidate;
    }
    if (!floor || floor === '0-1') return 0;
    return (await this.redis.xtrim(OUTBOX_STREAM, 'MINID', floor)) as number;
  }

  /** Entries not yet delivered to `group` plus those delivered but not acknowledged. */
  async depth(group: OutboxGroup): Promise<number> {
    const info = (await this.groupInfo()).find((g) => g.name === group);
    if (!info) return 0;
    return Number(info.lag ?? 0) + Number(info.pending ?? 0);
  }

  /** Entries in the stream. */
  async length(): Promise<number> {
    return this.redis.xlen(OUTBOX_STREAM);
  }

  private async groupInfo(): Promise<Record<string, unknown>[]> {
    try {
      const groups = (await this.redis.xinfo('GROUPS', OUTBOX_STREAM)) as unknown[][];
      return groups.map(toRecord);
    } catch (err) {
      if (String((err as Error).message).includes('no such key')) return [];
      throw err;
    }
  }
}

/**
 * One consumer's read side of an outbox group, as a `GroupStream` for the consumer-group worker
 * (`regions/streams/worker.ts`): read new, read own pending, claim idle, ack. Each entry's value is
 * the envelope's JSON exactly as appended with its fields besides `data` (so a forwarder passes the
 * bytes on without parsing `data`), or undefined when the entry is not one this code can decode.
 */
export class OutboxReader implements GroupStream<EnvelopeText> {
  constructor(
    private readonly redis: RedisClient,
    private readonly connection: RedisClient,
    readonly group: OutboxGroup,
    readonly consumer: string,
  ) {}

  /**
   * Entries never handed to the group, waiting up to `blockMs` on the dedicated connection. An abort
   * answers at once with nothing; entries the read still gets stay pending to this consumer.
   */
  async readNew({ count, blockMs, signal }: ReadNewOptions): Promise<GroupEntry<EnvelopeText>[]> {
    if (signal.aborted) return [];
    const block = blockMs > 0 ? ['BLOCK', blockMs] : [];
    const read = this.read(this.connection, count, [...block, 'STREAMS', OUTBOX_STREAM, '>']);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<GroupEntry<EnvelopeText>[]>((resolve) => {
      onAbort = () => resolve([]);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    read.catch(() => undefined);
    try {
      return await Promise.race([read, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }

  /** Entries handed to this consumer and not acknowledged (after a failure or a restart). */
  readPending(count: number): Promise<GroupEntry<EnvelopeText>[]> {
    return this.read(this.redis, count, ['STREAMS', OUTBOX_STREAM, '0']);
  }

  /** Takes over entries pending to any consumer of the group for at least `minIdleMs`. */
  async claim(minIdleMs: number, count: number): Promise<GroupEntry<EnvelopeText>[]> {
    const reply = (await this.redis.xautoclaim(
      OUTBOX_STREAM,
      this.group,
      this.consumer,
      minIdleMs,
      '0-0',
      'COUNT',
      count,
    )) as [string, (OutboxEntry | null)[]];
    return reply[1].filter((entry): entry is OutboxEntry => entry !== null).map(toGroupEntry);
  }

  async ack(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.xack(OUTBOX_STREAM, this.group, ...ids);
  }

  private async read(
    client: RedisClient,
    count: number,
    tail: (string | number)[],
  ): Promise<GroupEntry<EnvelopeText>[]> {
    const reply = (await client.call(
      'XREADGROUP',
      'GROUP',
      this.group,
      this.consumer,
      'COUNT',
      count,
      ...tail,
    )) as [string, OutboxEntry[]][] | null;
    return (reply?.[0]?.[1] ?? []).map(toGroupEntry);
  }
}

/** An entry pending to a consumer that was trimmed since comes back with no fields: undecodable. */
function toGroupEntry([id, fields]: [string, string[] | null]): GroupEntry<EnvelopeText> {
  return { id, value: fields ? decodeEntryText(fields) : undefined };
}

/** Decodes an outbox or bus entry's fields (see `shared/wire.ts`). */
export function decodeEnvelope(fields: readonly string[]): Envelope | undefined {
  return decodeEntry(fields)?.envelope;
}

function toRecord(flat: unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}

/** Stream ids are `ms-seq`; compares them numerically. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}

function nextId(id: string): string {
  const [ms, seq] = id.split('-') as [string, string];
  return `${ms}-${BigInt(seq ?? '0') + 1n}`;
}
