/** What the bench asks of its load process, and what it answers (over the fork IPC channel). */

export interface LatencyTask {
  kind: 'latency';
  /** One publisher per origin, each into its own room, all running at the same time. */
  origins: {
    name: string;
    url: string;
    receivers: { path: string; url: string }[];
  }[];
  /** Publishes per origin (after the warm-up ones), at `ratePerSecond`. */
  count: number;
  warmup: number;
  ratePerSecond: number;
}

export interface LatencyResult {
  /** Milliseconds from publish to receipt, by path name, warm-up excluded. */
  samples: Record<string, number[]>;
  /** Publishes a receiver never got, by path name. */
  lost: Record<string, number>;
}

export interface OpenTask {
  kind: 'open';
  group: string;
  url: string;
  count: number;
  /** Joined by every connection of the group when set. */
  room?: string;
  /** One user for the whole group (so joins make one presence transition), or one user each. */
  users: 'one' | 'each';
  concurrency: number;
}

export interface OpenResult {
  open: number;
  ms: number;
}

export interface FanoutTask {
  kind: 'fanout';
  /** The group whose `message` frames are counted (opened and joined to `room` before). */
  group: string;
  url: string;
  room: string;
  /** Publishes in flight at any time (a new one leaves when one is acked). */
  window: number;
  warmupMs: number;
  durationMs: number;
}

export interface FanoutResult {
  deliveries: number;
  publishes: number;
  seconds: number;
  /** Deliveries that arrived after publishing stopped (not counted above). */
  tail: number;
}

export interface HandshakeTask {
  kind: 'handshake';
  url: string;
  query?: Record<string, string>;
  count: number;
  warmup: number;
}

export interface CloseTask {
  kind: 'close';
  group: string;
}

export type LoadTask = LatencyTask | OpenTask | FanoutTask | HandshakeTask | CloseTask;

export interface LoadResults {
  latency: LatencyResult;
  open: OpenResult;
  fanout: FanoutResult;
  /** Handshake durations in milliseconds. */
  handshake: number[];
  close: { closed: number };
}

export type LoadRequest = { id: number; task: LoadTask };
export type LoadReply = { id: number; result: unknown } | { id: number; error: string };

/** Sent once at start: the secret tokens are signed with. */
export interface LoadInit {
  jwtSecret: string;
}
