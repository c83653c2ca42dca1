import type { GroupEntry, GroupStream, ReadNewOptions } from './group-stream';

interface Pending {
  consumer: string;
  since: number;
}

/**
 * A stream with one consumer group, in memory, for in-process tests of worker policies. Same
 * semantics as Redis Streams: entries handed to a consumer stay pending to it until acknowledged;
 * `claim` hands over entries idle long enough; waiting reads wake on append or abort.
 */
export class MemoryStream<T> {
  private readonly entries: GroupEntry<T>[] = [];
  private readonly pending = new Map<string, Pending>();
  private delivered = 0;
  private seq = 0;
  private readonly waiters = new Set<() => void>();

  append(value: T | undefined): string {
    const id = `${++this.seq}-0`;
    this.entries.push({ id, value });
    for (const wake of this.waiters) wake();
    return id;
  }

  /** Ids pending to anyone, oldest first. */
  pendingIds(): string[] {
    return this.entries.filter((e) => this.pending.has(e.id)).map((e) => e.id);
  }

  /** The group as `consumer` sees it. */
  as(consumer: string): GroupStream<T> {
    return {
      readNew: (options) => this.readNew(consumer, options),
      readPending: async (count) =>
        this.entries.filter((e) => this.pending.get(e.id)?.consumer === consumer).slice(0, count),
      claim: async (minIdleMs, count) => {
        const now = Date.now();
        const idle = this.entries
          .filter((e) => {
            const p = this.pending.get(e.id);
            return p !== undefined && now - p.since >= minIdleMs;
          })
          .slice(0, count);
        for (const e of idle) this.pending.set(e.id, { consumer, since: now });
        return idle;
      },
      ack: async (ids) => {
        for (const id of ids) this.pending.delete(id);
      },
    };
  }

  private async readNew(consumer: string, options: ReadNewOptions): Promise<GroupEntry<T>[]> {
    if (this.delivered === this.entries.length && options.blockMs > 0 && !options.signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          options.signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, options.blockMs);
        this.waiters.add(done);
        options.signal.addEventListener('abort', done);
      });
    }
    if (options.signal.aborted) return [];
    const fresh = this.entries.slice(this.delivered, this.delivered + options.count);
    this.delivered += fresh.length;
    const now = Date.now();
    for (const e of fresh) this.pending.set(e.id, { consumer, since: now });
    return fresh;
  }
}
