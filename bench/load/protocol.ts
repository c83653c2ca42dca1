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
  /** Publish with `ephemeral: true` (live only, never stored). */
  ephemeral?: boolean;
}

export interface LatencyResult {
  /** Milliseconds from publish to receipt, by path name, warm-up excluded. */
  samples: Record<string, number[]>;
  /** Publishes a receiver never got, by path name. */
  lost: Record<string, number>;
  /** Set when the system refused the first publish (its error code): nothing was measured. */
  refused?: string;
}

/** Saturation: raise an open-loop publish rate into one room until p99 passes a limit. */
export interface SaturationTask {
  kind: 'saturation';
  url: string;
  roomSize: number;
  /** Members that time what they receive (the rest only count), to keep the load process light. */
  timedMembers: number;
  rates: number[];
  stepMs: number;
  p99LimitMs: number;
}

export interface SaturationStep {
  rate: number;
  /** Publishes per second actually sent. */
  sentPerSecond: number;
  p50: number;
  p99: number;
  /** Share of the step's envelopes the timed members received. */
  delivered: number;
  held: boolean;
}

/** Hostile: well-behaved clients' publish acks, quiet and beside a hostile client on the same node. */
export interface HostileTask {
  kind: 'hostile';
  url: string;
  /** Well-behaved publishers, each its own user and room. */
  calmClients: number;
  calmRatePerClient: number;
  quietMs: number;
  hostileMs: number;
  /** The hostile client's rates: 64 KiB worst-case publishes, rejoins with `since`, history pages. */
  hostile: {
    publishesPerSecond: number;
    joinsPerSecond: number;
    historyPerSecond: number;
    payloadBytes: number;
  };
}

export interface HostileResult {
  quiet: number[];
  underHostile: number[];
  /** What the hostile client's requests got: ack code (or `ok`, or `no ack`) -> count. */
  hostileAnswers: Record<string, number>;
  /** Well-behaved publishes that were refused or not acked within 5 s. */
  calmFailures: number;
}

/** Footprint: a steady, closed-loop stream of publishes from one publisher per region. */
export interface FootprintTask {
  kind: 'footprint';
  publishers: { region: string; url: string }[];
  /** Rooms are `<roomPrefix><region>.<n>`. */
  roomPrefix: string;
  perRegion: number;
  rooms: number;
  window: number;
  dataBytes: number;
}

export interface FootprintResult {
  /** Publishes acked `ok`, by region. */
  accepted: Record<string, number>;
  refused: Record<string, number>;
  seconds: number;
}

/** Presence join cost: join acks into a room of `members` distinct users, and into an empty room. */
export interface PresenceJoinTask {
  kind: 'presence-join';
  url: string;
  members: number;
  joins: number;
}

export interface PresenceJoinResult {
  emptyRoomMs: number[];
  fullRoomMs: number[];
  /** Presence events the members received during the measured joins. */
  presenceEvents: number;
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

export type LoadTask =
  | LatencyTask
  | OpenTask
  | FanoutTask
  | HandshakeTask
  | CloseTask
  | SaturationTask
  | HostileTask
  | FootprintTask
  | PresenceJoinTask;

export interface LoadResults {
  latency: LatencyResult;
  saturation: SaturationStep[];
  hostile: HostileResult;
  footprint: FootprintResult;
  'presence-join': PresenceJoinResult;
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
