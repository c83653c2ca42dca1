/**
 * Every Redis key family the platform uses, declared once: its name builder, its Redis type, which
 * Redis holds it, what bounds it and which configuration sets that bound. `docs/architecture.md`
 * carries this list as the keyspace table (a test checks the two agree).
 *
 * Every name is built by `familyKey` or `taggedKey`. Families whose keys one script touches together
 * carry the same `slot` group and the same Redis Cluster hash tag (the literal `{publish}` or
 * `{recent}` in their names), so on a cluster they hash to one slot: the publish log's script uses
 * `ack`, `seen`, `rate`, `ephemeralRate` and `outbox` in one call, the bus consumer marks `seen` ids
 * under its `shardLease`; the recent-history script uses `recent`, `recentRooms` and `recentBytes`
 * together (and deletes other rooms' buffers by name). Each inbound shard is tagged by its number
 * (`rt:inbound:{3}` with its trim mark), so the shards spread over a cluster's masters. A single
 * server ignores the tags. On a Redis Cluster the publish log uses its own families instead of the
 * `{publish}` ones (`idClaim`, `groupAck`, `groupOutbox`, `userRate`, `userEphemeralRate`), spread
 * over the masters by id, by user and by publish group, and the recent-history buffers use
 * `groupRecent`, `groupRecentRooms` and `groupRecentBytes` instead of the `{recent}` ones: each group
 * (`{r<group>}`, a room's bus shard) holds its rooms' buffers and its share of the region's bounds.
 * docs/scaling.md says what this spreads and what it does not.
 *
 * `docs/architecture.md`'s keyspace table is `keyspaceTable()`: regenerate it with
 * `node --import tsx -e "import('./regions/keyspace.ts').then((m) => console.log(m.keyspaceTable()))"`.
 */

export type KeyStore = 'regional' | 'global';
export type KeyType = 'string' | 'stream' | 'zset' | 'hash' | 'set' | 'pubsub';

export interface KeyFamily {
  /** The key or its pattern as it appears in Redis (`{x}` marks a variable part). */
  readonly pattern: string;
  readonly type: KeyType;
  readonly store: KeyStore;
  /** What keeps the family from growing without bound. */
  readonly bound: string;
  /** Variables that set the bound (empty: fixed by code). */
  readonly config: readonly string[];
  /** The component that writes it. */
  readonly owner: string;
  /** Families one script touches together share a slot group (Redis Cluster: same hash slot). */
  readonly slot?: string;
}

const PREFIX = 'rt';

/** Builds a key of `family` from its variable parts: the one place names are assembled. */
function familyKey(family: string, ...parts: (string | number)[]): string {
  return [PREFIX, family, ...parts].join(':');
}

/** Redis Cluster hash tags of the slot groups: every key of a group hashes to one slot. */
const SLOT_TAGS = { publish: '{publish}', recent: '{recent}' } as const;

/** A key of `family` in slot group `group`: `rt:{group}:family:parts`. */
function taggedKey(group: keyof typeof SLOT_TAGS, family: string, ...parts: (string | number)[]): string {
  return [PREFIX, SLOT_TAGS[group], family, ...parts].join(':');
}

/**
 * A key of `family` in group `group` of a Redis Cluster: `rt:{p<group>}:family:parts` for the
 * publish log, `rt:{r<group>}:family:parts` for the recent-history buffers. A group is a room's bus
 * shard (`shardOfRoom`), so one room's envelopes, their retry records, the inbound shard of the same
 * number and its dedup marks stay in one slot, the room's buffer and its group's bounds in another,
 * and the groups spread over the masters.
 */
function groupKey(kind: 'p' | 'r', group: number, family: string, ...parts: (string | number)[]): string {
  return [PREFIX, `{${kind}${group}}`, family, ...parts].join(':');
}

/** Key builders, by family. */
export const keys = {
  /** A publish id's claim and first ack (the publish log). */
  ack: (id: string) => taggedKey('publish', 'ack', id),
  /** A remote envelope's dedup mark in this region (the bus consumer); the publish log reads it. */
  seen: (id: string) => taggedKey('publish', 'seen', id),
  /** Per-user publish counter of one second. */
  rate: (user: string, second: number) => taggedKey('publish', 'rate', user, second),
  /** Per-user ephemeral publish counter of one second. */
  ephemeralRate: (user: string, second: number) => taggedKey('publish', 'erate', user, second),
  /**
   * Cluster: a publish id's claimant in the region, in the id's own slot (any group's rooms), or the
   * mark that the id arrived from another region.
   */
  idClaim: (id: string) => familyKey('id', `{${id}}`),
  /** Cluster: a publish id's first ack, in its room's publish group (answers retries). */
  groupAck: (group: number, id: string) => groupKey('p', group, 'ack', id),
  /** Cluster: one publish group's queue of accepted envelopes (the rooms of bus shard `group`). */
  groupOutbox: (group: number) => groupKey('p', group, 'outbox'),
  /** Cluster: a remote envelope's dedup mark, in its room's publish group (the inbound shard's). */
  groupSeen: (group: number, id: string) => groupKey('p', group, 'seen', id),
  /** Cluster: which node of the region consumes inbound shard `group` (beside its dedup marks). */
  groupShardLease: (group: number) => groupKey('p', group, 'bus', 'lease'),
  /** Cluster: per-user publish counter of one second, in the user's own slot. */
  userRate: (user: string, second: number) => familyKey('rate', `{${user}}`, second),
  /** Cluster: per-user ephemeral publish counter of one second, in the user's own slot. */
  userEphemeralRate: (user: string, second: number) => familyKey('erate', `{${user}}`, second),
  /** Connection leases of one user. */
  connections: (user: string) => familyKey('conns', user),
  /** The region's durable queue of accepted envelopes. */
  outbox: () => taggedKey('publish', 'outbox'),
  /** A room's recent-history buffer. */
  recent: (room: string) => taggedKey('recent', 'recent', room),
  /** Rooms that have a recent-history buffer, scored by last append (the total bound). */
  recentRooms: () => taggedKey('recent', 'recent-rooms'),
  /** Bytes held by each room's recent-history buffer, and their total. */
  recentBytes: () => taggedKey('recent', 'recent-bytes'),
  /** Cluster: a room's recent-history buffer, in the room's group (`{r<group>}`). */
  groupRecent: (group: number, room: string) => groupKey('r', group, 'recent', room),
  /** Cluster: the rooms of one group that have a buffer, scored by last append (its share of the bound). */
  groupRecentRooms: (group: number) => groupKey('r', group, 'recent-rooms'),
  /** Cluster: bytes held by each buffer of one group, and the group's total. */
  groupRecentBytes: (group: number) => groupKey('r', group, 'recent-bytes'),
  /** Live nodes of the region, scored by lease expiry. */
  nodes: () => familyKey('nodes'),
  /** Members of a room in this region, by first join (a hash tag: a room's keys share a slot). */
  presence: (room: string) => familyKey('presence', `{${room}}`),
  /** Connections (socket, room pairs) of each member of a room in this region. */
  presenceRefs: (room: string) => familyKey('presence', `{${room}}`, 'refs'),
  /** The `info` claim of each member of a room in this region. */
  presenceInfo: (room: string) => familyKey('presence', `{${room}}`, 'info'),
  /** Members at no connection, waiting out the leave grace. */
  presenceLeaving: () => familyKey('presence-leaving'),
  /** What one node holds of each (room, user), for cleanup after it died. */
  presenceNode: (nodeId: string) => familyKey('presence-node', nodeId),
  /** Who cleans up after a dead node. */
  reaping: (nodeId: string) => familyKey('reaping', nodeId),
  /** Which node of the region consumes inbound shard `n`. */
  shardLease: (shard: number) => taggedKey('publish', 'bus', 'lease', shard),
  /** Which node of the region forwards its outbox to `peer`. */
  forwarderLease: (peer: string) => familyKey('bus', 'lease', 'forward', peer),
  /** Inbound shard `n` of a region: other regions' envelopes for rooms hashed to `n`, in order. */
  inbound: (shard: number) => familyKey('inbound', `{${shard}}`),
  /** The greatest id trimming removed from inbound shard `n`. */
  inboundTrimmed: (shard: number) => familyKey('inbound', `{${shard}}`, 'trimmed'),
  /** Outbox entries Postgres refused, with their error. */
  historyDeadLetters: () => familyKey('history', 'dead-letters'),
  /** The Socket.IO Redis adapter's channel prefix. */
  adapterChannel: () => familyKey('sio'),
  /** Node health read by the edge. */
  health: () => familyKey('health'),
  /** Regions with members of a room (global mirror; shares the room's slot). */
  globalPresenceRegions: (room: string) => familyKey('gpresence', `{${room}}`, 'regions'),
  /** One region's members of a room, by first join (global mirror). */
  globalPresence: (room: string, region: string) => familyKey('gpresence', `{${room}}`, 'r', region),
  /** One region's members' `info` of a room (global mirror). */
  globalPresenceInfo: (room: string, region: string) => familyKey('gpresence', `{${room}}`, 'i', region),
  /** Users whose tokens issued before a time are refused (server API revoke). */
  revocations: () => familyKey('revocations'),
  /** Server API disconnects, to every node of every region. */
  userControl: () => familyKey('user-control'),
  /** Presence transitions across regions. */
  presenceEvents: () => familyKey('presence-events'),
} as const;

export type KeyFamilyName = keyof typeof keys;

/** The variables that bound a room's recent-history buffer and all of them together. */
const RECENT_BUFFER_CONFIG = [
  'RECENT_HISTORY_LENGTH',
  'RECENT_HISTORY_ROOM_BYTES',
  'RECENT_HISTORY_BYTES',
  'RECENT_HISTORY_ROOMS',
  'RECENT_HISTORY_TTL_S',
];

/** The keyspace table: every family with its type, store, bound and owner. */
export const keyFamilies: Record<KeyFamilyName, KeyFamily> = {
  ack: {
    pattern: 'rt:{publish}:ack:{id}',
    type: 'string',
    store: 'regional',
    bound: 'TTL: until the id leaves the idempotency window (at most the window plus the future skew)',
    config: ['IDEMPOTENCY_WINDOW_S', 'ENVELOPE_ID_FUTURE_S'],
    owner: 'publish log',
    slot: 'publish',
  },
  seen: {
    pattern: 'rt:{publish}:seen:{id}',
    type: 'string',
    store: 'regional',
    bound: 'TTL: the bus dedup window',
    config: ['BUS_DEDUP_WINDOW_S'],
    owner: 'bus consumer',
    slot: 'publish',
  },
  rate: {
    pattern: 'rt:{publish}:rate:{user}:{second}',
    type: 'string',
    store: 'regional',
    bound: 'TTL 2 s; one per user publishing in that second',
    config: [],
    owner: 'publish log',
    slot: 'publish',
  },
  ephemeralRate: {
    pattern: 'rt:{publish}:erate:{user}:{second}',
    type: 'string',
    store: 'regional',
    bound: 'TTL 2 s; one per user publishing ephemeral envelopes in that second',
    config: [],
    owner: 'publish log',
    slot: 'publish',
  },
  idClaim: {
    pattern: 'rt:id:{id}',
    type: 'string',
    store: 'regional',
    bound:
      "Redis Cluster only; a local claim until the id leaves the idempotency window, a remote envelope's for the bus dedup window",
    config: ['IDEMPOTENCY_WINDOW_S', 'ENVELOPE_ID_FUTURE_S', 'BUS_DEDUP_WINDOW_S'],
    owner: 'publish log, bus consumer',
  },
  groupAck: {
    pattern: 'rt:{p<group>}:ack:{id}',
    type: 'string',
    store: 'regional',
    bound: 'Redis Cluster only; TTL: until the id leaves the idempotency window',
    config: ['IDEMPOTENCY_WINDOW_S', 'ENVELOPE_ID_FUTURE_S'],
    owner: 'publish log',
    slot: 'publish group',
  },
  groupOutbox: {
    pattern: 'rt:{p<group>}:outbox',
    type: 'stream',
    store: 'regional',
    bound:
      'Redis Cluster only, one per bus shard; each trimmed below what every configured consumer group acknowledged',
    config: ['BUS_SHARDS', 'OUTBOX_TRIM_INTERVAL_MS'],
    owner: 'publish log (append), outbox (trim)',
    slot: 'publish group',
  },
  groupSeen: {
    pattern: 'rt:{p<group>}:seen:{id}',
    type: 'string',
    store: 'regional',
    bound: 'Redis Cluster only; TTL: the bus dedup window',
    config: ['BUS_DEDUP_WINDOW_S'],
    owner: 'bus consumer',
    slot: 'publish group',
  },
  groupShardLease: {
    pattern: 'rt:{p<group>}:bus:lease',
    type: 'string',
    store: 'regional',
    bound: 'Redis Cluster only; one per inbound shard; TTL BUS_LEASE_MS',
    config: ['BUS_SHARDS', 'BUS_LEASE_MS'],
    owner: 'bus',
    slot: 'publish group',
  },
  userRate: {
    pattern: 'rt:rate:{user}:{second}',
    type: 'string',
    store: 'regional',
    bound: 'Redis Cluster only; TTL 2 s; one per user publishing in that second',
    config: [],
    owner: 'publish log',
  },
  userEphemeralRate: {
    pattern: 'rt:erate:{user}:{second}',
    type: 'string',
    store: 'regional',
    bound: 'Redis Cluster only; TTL 2 s; one per user publishing ephemeral envelopes in that second',
    config: [],
    owner: 'publish log',
  },
  connections: {
    pattern: 'rt:conns:{user}',
    type: 'zset',
    store: 'regional',
    bound: 'at most MAX_CONNECTIONS_PER_USER members; TTL 60 s after the last renewal',
    config: ['MAX_CONNECTIONS_PER_USER'],
    owner: 'user limits',
  },
  outbox: {
    pattern: 'rt:{publish}:outbox',
    type: 'stream',
    store: 'regional',
    bound:
      'trimmed every few seconds below what every configured consumer group (history, one per peer) acknowledged',
    config: ['OUTBOX_TRIM_INTERVAL_MS'],
    owner: 'publish log (append), outbox (trim)',
    slot: 'publish',
  },
  recent: {
    pattern: 'rt:{recent}:recent:{room}',
    type: 'stream',
    store: 'regional',
    bound:
      'per room RECENT_HISTORY_LENGTH entries and RECENT_HISTORY_ROOM_BYTES; all rooms together RECENT_HISTORY_BYTES and RECENT_HISTORY_ROOMS; TTL RECENT_HISTORY_TTL_S',
    config: RECENT_BUFFER_CONFIG,
    owner: 'recent history',
    slot: 'recent',
  },
  recentRooms: {
    pattern: 'rt:{recent}:recent-rooms',
    type: 'zset',
    store: 'regional',
    bound: 'at most RECENT_HISTORY_ROOMS members (the least recently appended room is dropped)',
    config: ['RECENT_HISTORY_ROOMS'],
    owner: 'recent history',
    slot: 'recent',
  },
  recentBytes: {
    pattern: 'rt:{recent}:recent-bytes',
    type: 'hash',
    store: 'regional',
    bound: 'one field per room in rt:recent-rooms, plus the total',
    config: ['RECENT_HISTORY_ROOMS'],
    owner: 'recent history',
    slot: 'recent',
  },
  groupRecent: {
    pattern: 'rt:{r<group>}:recent:{room}',
    type: 'stream',
    store: 'regional',
    bound:
      'Redis Cluster only; per room as on one server; the rooms of one group (BUS_SHARDS groups) together RECENT_HISTORY_BYTES / BUS_SHARDS and RECENT_HISTORY_ROOMS / BUS_SHARDS; TTL RECENT_HISTORY_TTL_S',
    config: [...RECENT_BUFFER_CONFIG, 'BUS_SHARDS'],
    owner: 'recent history',
    slot: 'recent group',
  },
  groupRecentRooms: {
    pattern: 'rt:{r<group>}:recent-rooms',
    type: 'zset',
    store: 'regional',
    bound:
      'Redis Cluster only, one per bus shard; at most RECENT_HISTORY_ROOMS / BUS_SHARDS members (the least recently appended room of the group is dropped)',
    config: ['RECENT_HISTORY_ROOMS', 'BUS_SHARDS'],
    owner: 'recent history',
    slot: 'recent group',
  },
  groupRecentBytes: {
    pattern: 'rt:{r<group>}:recent-bytes',
    type: 'hash',
    store: 'regional',
    bound: "Redis Cluster only; one field per room in its group's recent-rooms, plus the group's total",
    config: ['RECENT_HISTORY_ROOMS', 'BUS_SHARDS'],
    owner: 'recent history',
    slot: 'recent group',
  },
  nodes: {
    pattern: 'rt:nodes',
    type: 'zset',
    store: 'regional',
    bound: "one member per live node; a dead node's member is reaped after its lease",
    config: [],
    owner: 'node registry',
  },
  presence: {
    pattern: 'rt:presence:{room}',
    type: 'zset',
    store: 'regional',
    bound: 'one member per user with a connection in the room, or in its leave grace',
    config: ['PRESENCE_LEAVE_GRACE_MS'],
    owner: 'presence',
    slot: 'presence room',
  },
  presenceRefs: {
    pattern: 'rt:presence:{room}:refs',
    type: 'hash',
    store: 'regional',
    bound: 'one field per member of the room',
    config: [],
    owner: 'presence',
    slot: 'presence room',
  },
  presenceInfo: {
    pattern: 'rt:presence:{room}:info',
    type: 'hash',
    store: 'regional',
    bound: 'one field per member of the room with an info claim (at most 1 KiB each)',
    config: [],
    owner: 'presence',
    slot: 'presence room',
  },
  presenceLeaving: {
    pattern: 'rt:presence-leaving',
    type: 'zset',
    store: 'regional',
    bound: 'members in their leave grace; swept every 500 ms',
    config: ['PRESENCE_LEAVE_GRACE_MS'],
    owner: 'presence',
  },
  presenceNode: {
    pattern: 'rt:presence-node:{node}',
    type: 'hash',
    store: 'regional',
    bound: 'one field per (room, user) a live node holds; deleted when it stops or is reaped',
    config: ['PRESENCE_NODE_LEASE_MS'],
    owner: 'presence',
  },
  reaping: {
    pattern: 'rt:reaping:{node}',
    type: 'string',
    store: 'regional',
    bound: 'TTL 30 s',
    config: [],
    owner: 'node registry',
  },
  shardLease: {
    pattern: 'rt:{publish}:bus:lease:{shard}',
    type: 'string',
    store: 'regional',
    bound: 'one per inbound shard; TTL BUS_LEASE_MS',
    config: ['BUS_SHARDS', 'BUS_LEASE_MS'],
    owner: 'bus',
  },
  forwarderLease: {
    pattern: 'rt:bus:lease:forward:{peer}',
    type: 'string',
    store: 'regional',
    bound: 'one per peer region; TTL BUS_LEASE_MS',
    config: ['BUS_PEERS', 'BUS_LEASE_MS'],
    owner: 'bus',
  },
  inbound: {
    pattern: 'rt:inbound:{shard}',
    type: 'stream',
    store: 'regional',
    bound:
      'trimmed every second below what the region consumer group acknowledged (about a second of a steady stream); unread entries at most BUS_MAXLEN and BUS_MAX_AGE_S per shard',
    config: ['BUS_SHARDS', 'BUS_MAXLEN', 'BUS_MAX_AGE_S'],
    owner: "peer regions' forwarders (append), bus (trim)",
  },
  inboundTrimmed: {
    pattern: 'rt:inbound:{shard}:trimmed',
    type: 'string',
    store: 'regional',
    bound: 'one per shard',
    config: ['BUS_SHARDS'],
    owner: 'bus',
  },
  historyDeadLetters: {
    pattern: 'rt:history:dead-letters',
    type: 'stream',
    store: 'regional',
    bound: 'HISTORY_DEAD_LETTER_MAXLEN entries',
    config: ['HISTORY_DEAD_LETTER_MAXLEN'],
    owner: 'history writer',
  },
  adapterChannel: {
    pattern: 'rt:sio#…',
    type: 'pubsub',
    store: 'regional',
    bound: 'channels only, nothing stored',
    config: [],
    owner: 'Socket.IO Redis adapter',
  },
  health: {
    pattern: 'rt:health',
    type: 'hash',
    store: 'global',
    bound: 'one field per node; a stopped node removes its field, a crashed one goes stale',
    config: [],
    owner: 'health beacon',
  },
  globalPresenceRegions: {
    pattern: 'rt:gpresence:{room}:regions',
    type: 'set',
    store: 'global',
    bound: 'one member per region; expires after twice PRESENCE_MIRROR_TTL_MS without a refresh',
    config: ['PRESENCE_MIRROR_TTL_MS'],
    owner: 'presence mirror',
    slot: 'global presence room',
  },
  globalPresence: {
    pattern: 'rt:gpresence:{room}:r:{region}',
    type: 'zset',
    store: 'global',
    bound: "the region's members of the room; expires after PRESENCE_MIRROR_TTL_MS without a refresh",
    config: ['PRESENCE_MIRROR_TTL_MS'],
    owner: 'presence mirror',
    slot: 'global presence room',
  },
  globalPresenceInfo: {
    pattern: 'rt:gpresence:{room}:i:{region}',
    type: 'hash',
    store: 'global',
    bound: "the region's members with info; expires after PRESENCE_MIRROR_TTL_MS without a refresh",
    config: ['PRESENCE_MIRROR_TTL_MS'],
    owner: 'presence mirror',
    slot: 'global presence room',
  },
  revocations: {
    pattern: 'rt:revocations',
    type: 'zset',
    store: 'global',
    bound: 'one member per revoked user; older than REVOCATION_TTL_S trimmed at each revoke',
    config: ['REVOCATION_TTL_S'],
    owner: 'server API',
  },
  userControl: {
    pattern: 'rt:user-control',
    type: 'pubsub',
    store: 'global',
    bound: 'channel only, nothing stored',
    config: [],
    owner: 'server API',
  },
  presenceEvents: {
    pattern: 'rt:presence-events',
    type: 'pubsub',
    store: 'global',
    bound: 'channel only, nothing stored',
    config: [],
    owner: 'presence mirror',
  },
};

/** The keyspace table as Markdown, as `docs/architecture.md` shows it. */
export function keyspaceTable(): string {
  const rows = Object.values(keyFamilies).map((f) => {
    const config = f.config.length > 0 ? f.config.map((c) => `\`${c}\``).join(', ') : '-';
    return `| \`${f.pattern}\` | ${f.type} | ${f.store} | ${f.bound} | ${config} | ${f.owner} |`;
  });
  return [
    '| key | type | Redis | bound | set by | written by |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
