import type { Redis } from 'ioredis';
import { envelopeSchema, type Envelope } from '../../shared';

/** The region's durable queue: a Redis stream in the regional Redis. */
export const OUTBOX_STREAM = 'rt:outbox';

/**
 * Consumer groups that always read the outbox; the node adds one per peer region the bus forwards
 * to (`forward:{peer}`). Each must see every entry: the outbox is trimmed only below what all of
 * the configured groups have acknowledged (see `trimAcknowledged`).
 */
export const OUTBOX_GROUPS = ['history'] as const;
export type OutboxGroup = string;

/** Envelopes a node holds in memory while the regional Redis is down, before refusing publishes. */
export const DEFAULT_HOLD_CAPACITY = 10_000;

/** The publish-id claim that goes with an append: `SET key value EX ttlS NX`. */
export interface IdClaim {
  key: string;
  value: string;
  ttlS: number;
}

// Claim the id and append the envelope in one step, so a crash can never leave a claimed id without
// its envelope (a retry would be acked but the message lost) or an envelope without its claim.
const APPEND_ONCE_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[3])
  return false
end
return redis.call('GET', KEYS[1])`;

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
export class RegionalOutbox {
  private readonly held: { envelope: Envelope; claim: IdClaim }[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly holdCapacity = DEFAULT_HOLD_CAPACITY,
    private readonly onError: (err: Error, action: string) => void = () => undefined,
    private readonly groups: readonly OutboxGroup[] = OUTBOX_GROUPS,
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
    for (const group of this.groups) {
      try {
        await this.redis.xgroup('CREATE', OUTBOX_STREAM, group, '0', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
      }
    }
  }

  /**
   * Appends `envelope` unless its id was claimed already, atomically with the claim. Returns the
   * existing claim's value for a duplicate, or null when the envelope was appended, or held because
   * the regional Redis is unreachable (held envelopes are appended with the same check later, so a
   * duplicate accepted meanwhile by another node is dropped then). Throws when the hold is full.
   */
  async appendOnce(envelope: Envelope, claim: IdClaim): Promise<string | null> {
    // Once anything is held, later envelopes queue behind it so the outbox keeps acceptance order.
    if (this.held.length === 0) {
      try {
        return await this.appendWithClaim(envelope, claim);
      } catch (err) {
        this.onError(err as Error, 'append');
      }
    }
    if (this.held.length >= this.holdCapacity) {
      throw new Error(`regional Redis unavailable and ${this.held.length} envelopes already held`);
    }
    this.held.push({ envelope, claim });
    return null;
  }

  private async appendWithClaim(envelope: Envelope, claim: IdClaim): Promise<string | null> {
    const existing = await this.redis.eval(
      APPEND_ONCE_SCRIPT,
      2,
      claim.key,
      OUTBOX_STREAM,
      claim.value,
      claim.ttlS,
      JSON.stringify(envelope),
    );
    return typeof existing === 'string' ? existing : null;
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
        const { envelope, claim } = this.held[0]!;
        await this.appendWithClaim(envelope, claim);
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
    for (const group of this.groups) {
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
