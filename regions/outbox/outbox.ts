import type { Redis } from 'ioredis';
import { envelopeSchema, type Envelope } from '../../shared';
import type { EnvelopeSink } from '../publish';

/** The region's durable queue: a Redis stream in the regional Redis. */
export const OUTBOX_STREAM = 'rt:outbox';

/**
 * Consumer groups that read the outbox. Each must see every entry: the outbox is trimmed only below
 * what all of them have acknowledged (see `trimAcknowledged`).
 */
export const OUTBOX_GROUPS = ['forwarder', 'history'] as const;
export type OutboxGroup = (typeof OUTBOX_GROUPS)[number];

/** Envelopes a node holds in memory while the regional Redis is down, before refusing publishes. */
export const DEFAULT_HOLD_CAPACITY = 10_000;

/**
 * Every envelope accepted in this region is appended here before it is emitted or acked, so the
 * sender's ack means "stored in the regional Redis". Consumers read it through their consumer group:
 * `forwarder` moves envelopes to the global bus, `history` writes them to Postgres. Both survive an
 * outage of what they feed, because entries stay here until acknowledged.
 *
 * While the regional Redis itself is down, the node holds accepted envelopes in memory (bounded by
 * `holdCapacity`; beyond it `append` throws and the publish is refused as `unavailable`) and appends
 * them, in order, as soon as Redis is back; local delivery goes on meanwhile. Envelopes held by a node
 * that crashes during such an outage are lost to other regions and to history (documented).
 */
export class RegionalOutbox implements EnvelopeSink {
  private readonly held: Envelope[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly holdCapacity = DEFAULT_HOLD_CAPACITY,
    private readonly onError: (err: Error, action: string) => void = () => undefined,
  ) {
    // A restarted Redis may come back empty: re-create the groups, then append what was held.
    redis.on('ready', () => {
      void this.ensureGroups()
        .then(() => this.flush())
        .catch((err: Error) => this.onError(err, 'recover'));
    });
  }

  /** Envelopes accepted while the regional Redis was unreachable and not yet appended. */
  get heldCount(): number {
    return this.held.length;
  }

  /** Creates the stream and the consumer groups if missing (idempotent). */
  async ensureGroups(): Promise<void> {
    for (const group of OUTBOX_GROUPS) {
      try {
        await this.redis.xgroup('CREATE', OUTBOX_STREAM, group, '0', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
      }
    }
  }

  async append(envelope: Envelope): Promise<void> {
    // Once anything is held, later envelopes queue behind it so the outbox keeps acceptance order.
    if (this.held.length === 0) {
      try {
        await this.redis.xadd(OUTBOX_STREAM, '*', 'e', JSON.stringify(envelope));
        return;
      } catch (err) {
        this.onError(err as Error, 'append');
      }
    }
    if (this.held.length >= this.holdCapacity) {
      throw new Error(`regional Redis unavailable and ${this.held.length} envelopes already held`);
    }
    this.held.push(envelope);
  }

  /** Appends held envelopes in order; stops at the first failure and tries again on the next call. */
  flush(): Promise<void> {
    // Cleared in `.finally`, which runs after the assignment even when nothing is held.
    this.flushing ??= this.appendHeld().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async appendHeld(): Promise<void> {
    try {
      while (this.held.length > 0) {
        await this.redis.xadd(OUTBOX_STREAM, '*', 'e', JSON.stringify(this.held[0]));
        this.held.shift();
      }
    } catch (err) {
      this.onError(err as Error, 'flush');
    }
  }

  /**
   * Trims entries every group has acknowledged: below the smallest of each group's oldest pending
   * entry and next undelivered entry. Returns how many entries were removed.
   */
  async trimAcknowledged(): Promise<number> {
    let floor: string | undefined;
    for (const group of OUTBOX_GROUPS) {
      const pending = (await this.redis.xpending(OUTBOX_STREAM, group)) as [
        number,
        string | null,
        string | null,
        unknown,
      ];
      const groups = (await this.redis.xinfo('GROUPS', OUTBOX_STREAM)) as unknown[][];
      const info = groups.map(toRecord).find((g) => g.name === group);
      if (!info) return 0;
      // Entries up to last-delivered-id were handed out; those still pending stay.
      const candidate = pending[0] > 0 && pending[1] ? pending[1] : nextId(String(info['last-delivered-id']));
      if (floor === undefined || compareIds(candidate, floor) < 0) floor = candidate;
    }
    if (!floor || floor === '0-1') return 0;
    return (await this.redis.xtrim(OUTBOX_STREAM, 'MINID', floor)) as number;
  }

  /** Entries not yet delivered to `group` plus those delivered but not acknowledged. */
  async depth(group: OutboxGroup): Promise<number> {
    const groups = (await this.redis.xinfo('GROUPS', OUTBOX_STREAM)) as unknown[][];
    const info = groups.map(toRecord).find((g) => g.name === group);
    if (!info) return 0;
    return Number(info.lag ?? 0) + Number(info.pending ?? 0);
  }
}

/** Decodes an outbox or bus entry's fields (`e` holds the envelope JSON). */
export function decodeEnvelope(fields: string[]): Envelope | undefined {
  const index = fields.indexOf('e');
  if (index < 0 || index + 1 >= fields.length) return undefined;
  try {
    const parsed = envelopeSchema.safeParse(JSON.parse(fields[index + 1]!));
    return parsed.success ? (parsed.data as Envelope) : undefined;
  } catch {
    return undefined;
  }
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
