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

/**
 * Every envelope accepted in this region is appended here before it is emitted or acked, so the
 * sender's ack means "stored in the regional Redis". Consumers read it through their consumer group:
 * `forwarder` moves envelopes to the global bus, `history` writes them to Postgres. Both survive an
 * outage of what they feed, because entries stay here until acknowledged.
 */
export class RegionalOutbox implements EnvelopeSink {
  constructor(private readonly redis: Redis) {}

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
    await this.redis.xadd(OUTBOX_STREAM, '*', 'e', JSON.stringify(envelope));
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
