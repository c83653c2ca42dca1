import type { RedisClient } from '../redis';
import { decodeEntry, decodeEntryText, type EnvelopeText, type Envelope } from '../../shared';
import type { GroupEntry, GroupStream, ReadNewOptions } from '../streams/group-stream';
import { keys } from '../keyspace';
import { parseRedisTarget } from '../redis';
import { holdRedisWritesThisTurn } from '../turn-writes';

/** The region's durable queue on one Redis server: one stream. */
export const OUTBOX_STREAM = keys.outbox();

/**
 * The outbox streams of a region: on one server the one stream; on a Redis Cluster one per publish
 * group (`BUS_SHARDS` of them, a room's group being its bus shard), which spread over the masters.
 */
export function outboxStreams(config: { redisUrl: string; bus: { shards: number } }): string[] {
  if (parseRedisTarget(config.redisUrl).kind !== 'cluster') return [OUTBOX_STREAM];
  return Array.from({ length: config.bus.shards }, (_, group) => keys.groupOutbox(group));
}

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
  /** The outbox streams (`outboxStreams`): each has every group, each is trimmed on its own. */
  readonly streams: readonly string[];

  constructor(
    private readonly redis: RedisClient,
    groups: readonly OutboxGroup[] = OUTBOX_GROUPS,
    streams: readonly string[] = [OUTBOX_STREAM],
  ) {
    this.groups = [...groups];
    this.streams = [...streams];
    // A restarted Redis may come back empty: re-create the groups.
    redis.on('ready', () => void this.ensureGroups().catch(() => undefined));
  }

  /** Creates the stream and every configured group if missing (idempotent). */
  async ensureGroups(): Promise<void> {
    for (const stream of this.streams) for (const group of this.groups) await this.createGroup(stream, group);
  }

  private async createGroup(stream: string, group: OutboxGroup): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  /** The read side of `group` for `consumer`; blocking reads go through `connection` (a dedicated one). */
  reader(
    group: OutboxGroup,
    consumer: string,
    connection: RedisClient = this.redis,
    stream: string = this.streams[0]!,
  ): OutboxReader {
    return new OutboxReader(this.redis, connection, group, consumer, stream);
  }

  /**
   * Trims entries every configured group has acknowledged: below the smallest of each group's oldest
   * pending entry and next undelivered entry (nothing while a group is missing, e.g. just after a
   * Redis restart). Groups of other configurations (a peer no longer configured) do not hold it back.
   * Returns how many entries were removed.
   */
  async trimAcknowledged(): Promise<number> {
    let removed = 0;
    for (const stream of this.streams) removed += await this.trimStream(stream);
    return removed;
  }

  private async trimStream(stream: string): Promise<number> {
    const existing = await this.groupInfo(stream);
    let floor: string | undefined;
    for (const group of this.groups) {
      const info = existing.find((g) => g.name === group);
      if (!info) return 0;
      const pending = (await this.redis.xpending(stream, group)) as [number, string | null, ...unknown[]];
      // Entries up to last-delivered-id were handed out; those still pending stay.
      const candidate = pending[0] > 0 && pending[1] ? pending[1] : nextId(String(info['last-delivered-id']));
      if (floor === undefined || compareIds(candidate, floor) < 0) floor = candidate;
    }
    if (!floor || floor === '0-1') return 0;
    return (await this.redis.xtrim(stream, 'MINID', floor)) as number;
  }

  /** Entries not yet delivered to `group` plus those delivered but not acknowledged, over every stream. */
  async depth(group: OutboxGroup): Promise<number> {
    let depth = 0;
    for (const stream of this.streams) {
      const info = (await this.groupInfo(stream)).find((g) => g.name === group);
      if (info) depth += Number(info.lag ?? 0) + Number(info.pending ?? 0);
    }
    return depth;
  }

  /** Entries in the streams. */
  async length(): Promise<number> {
    let length = 0;
    for (const stream of this.streams) length += await this.redis.xlen(stream);
    return length;
  }

  private async groupInfo(stream: string): Promise<Record<string, unknown>[]> {
    try {
      const groups = (await this.redis.xinfo('GROUPS', stream)) as unknown[][];
      return groups.map(toRecord);
    } catch (err) {
      if (String((err as Error).message).includes('no such key')) return [];
      throw err;
    }
  }
}

/** How long acknowledgements wait for a read to ride on before they go as a command of their own. */
export const ACK_HOLD_MS = 200;

export interface OutboxReaderOptions {
  /**
   * Acknowledgements are held and sent behind the next waiting read on the dedicated connection,
   * in the same write, so Redis runs them as that read returns and answers both together: one
   * write and one reply fewer per batch. `ack` resolves once the ids are held, which suits a
   * reader for whom a lost acknowledgement only means an entry is handled again (the forwarder:
   * the destination drops a repeat by id). Held ids go as a command of their own when no read
   * takes them within `ACK_HOLD_MS`, and at `flush` (a reset, a stop). Failures go here.
   */
  acksBehindReads?: { onFailure(err: Error): void };
}

/**
 * One consumer's read side of an outbox group, as a `GroupStream` for the consumer-group worker
 * (`regions/streams/worker.ts`): read new, read own pending, claim idle, ack. Each entry's value is
 * the envelope's JSON exactly as appended with its fields besides `data` (so a forwarder passes the
 * bytes on without parsing `data`), or undefined when the entry is not one this code can decode.
 */
export class OutboxReader implements GroupStream<EnvelopeText> {
  /** Acknowledgements held for the next read (`acksBehindReads`). */
  private held: string[] = [];
  /** Acknowledgements sent behind the read outstanding, until it answers. */
  private riding: string[] = [];
  private holdTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly connection: RedisClient,
    readonly group: OutboxGroup,
    readonly consumer: string,
    readonly stream: string = OUTBOX_STREAM,
    private readonly options: OutboxReaderOptions = {},
  ) {}

  /**
   * Entries never handed to the group, waiting up to `blockMs` on the dedicated connection. An abort
   * answers at once with nothing; entries the read still gets stay pending to this consumer.
   */
  async readNew({ count, blockMs, signal }: ReadNewOptions): Promise<GroupEntry<EnvelopeText>[]> {
    if (signal.aborted) return [];
    const block = blockMs > 0 ? ['BLOCK', blockMs] : [];
    const tail = [...block, 'STREAMS', this.stream, '>'];
    const read =
      this.held.length > 0 ? this.readWithAcks(count, tail) : this.read(this.connection, count, tail);
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
    return this.read(this.redis, count, ['STREAMS', this.stream, '0']);
  }

  /** Takes over entries pending to any consumer of the group for at least `minIdleMs`. */
  async claim(minIdleMs: number, count: number): Promise<GroupEntry<EnvelopeText>[]> {
    const reply = (await this.redis.xautoclaim(
      this.stream,
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
    if (ids.length === 0) return;
    if (!this.options.acksBehindReads) {
      await this.redis.xack(this.stream, this.group, ...ids);
      return;
    }
    this.held.push(...ids);
    this.holdTimer ??= setTimeout(() => {
      this.holdTimer = undefined;
      void this.flush();
    }, ACK_HOLD_MS);
  }

  /**
   * Sends every acknowledgement held or riding behind a read that has not answered as a command of
   * its own (acknowledging twice is harmless), so that pending entries after a failure, and what a
   * next holder takes over, are only what was not handled.
   */
  async flush(): Promise<void> {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    const ids = [...this.riding, ...this.held];
    this.held = [];
    if (ids.length === 0) return;
    try {
      await this.redis.xack(this.stream, this.group, ...ids);
      this.riding = [];
    } catch (err) {
      this.options.acksBehindReads?.onFailure(err as Error);
    }
  }

  reset(): Promise<void> {
    return this.flush();
  }

  /** The read with the held acknowledgements behind it, in one write on the dedicated connection. */
  private readWithAcks(count: number, tail: (string | number)[]): Promise<GroupEntry<EnvelopeText>[]> {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    const ids = this.held;
    this.held = [];
    this.riding = ids;
    // Both commands leave in this turn's one write; Redis answers the ack right after the read.
    holdRedisWritesThisTurn(this.connection);
    const read = this.read(this.connection, count, tail);
    this.connection.xack(this.stream, this.group, ...ids).then(
      () => {
        if (this.riding === ids) this.riding = [];
      },
      (err: Error) => this.options.acksBehindReads?.onFailure(err),
    );
    return read;
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
    )) as RawRead;
    return toGroupEntries(reply);
  }
}

type RawRead = [string, OutboxEntry[]][] | null;

function toGroupEntries(reply: RawRead): GroupEntry<EnvelopeText>[] {
  return (reply?.[0]?.[1] ?? []).map(toGroupEntry);
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
