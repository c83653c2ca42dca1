/** One entry of a stream read through a consumer group; `value` is undefined when it could not be decoded. */
export interface GroupEntry<T> {
  id: string;
  value: T | undefined;
}

export interface ReadNewOptions {
  count: number;
  /** How long to wait for new entries when there are none (0: return at once). */
  blockMs: number;
  /** Ends a waiting read early, with no entries. */
  signal: AbortSignal;
}

/**
 * A stream as one consumer of one consumer group sees it: what the group never handed out, what is
 * pending to this consumer, and what is pending to others. Entries handed out stay pending until
 * acknowledged. Backends: Redis Streams (`RedisGroupStream`) and memory (`MemoryGroupStream`).
 */
export interface GroupStream<T> {
  /** Entries never handed to the group, now handed to this consumer, oldest first. */
  readNew(options: ReadNewOptions): Promise<GroupEntry<T>[]>;
  /** Entries pending to this consumer, oldest first. */
  readPending(count: number): Promise<GroupEntry<T>[]>;
  /** Takes over entries pending to any consumer for at least `minIdleMs`, oldest first. */
  claim(minIdleMs: number, count: number): Promise<GroupEntry<T>[]>;
  ack(ids: readonly string[]): Promise<void>;
  /**
   * After a failure, before pending entries are read back: ends reads issued ahead, so that none of
   * them is handled before what the failure left pending. A no-op for backends without read-ahead.
   */
  reset?(): Promise<void>;
  /** Sends acknowledgements a backend holds back (to send them with a later read) now. */
  flush?(): Promise<void>;
}
