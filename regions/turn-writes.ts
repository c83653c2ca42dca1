/** What `holdWritesThisTurn` needs of a stream: a `net.Socket`, a `tls.TLSSocket`, any `Writable`. */
export interface CorkableStream {
  cork(): void;
  uncork(): void;
}

/** Told when the writes it held this turn are let go. */
export interface HeldWritesOwner {
  writesReleased(): void;
}

/** The streams held this turn, each with whom to tell once its writes are let go. */
let held = new Map<CorkableStream, HeldWritesOwner | undefined>();

/**
 * Holds what is written to `stream` from now until a `process.nextTick` queued now has run (when
 * called from a promise continuation, as the delivery flush is, that is after every continuation
 * queued meanwhile, the acks of the batch's publishes too), then lets it go in one write:
 * one system call for the Redis commands of a turn (the publish scripts of the publishes one TCP
 * read brought, the adapter's PUBLISH per envelope of a delivery batch) and for the WebSocket frames
 * a connection gets in one turn (its envelopes of a delivery batch, the acks of the publishes it
 * made), where each write would otherwise be a system call of its own. Nothing waits for another
 * turn of the event loop: the bytes leave before any timer or I/O callback runs. Streams are let go
 * in the order they were first held, so of two connections the one written to first writes first.
 *
 * `owner` is told right after the stream's writes are let go. Returns whether the stream was
 * already held this turn (its first holder is the one told).
 */
export function holdWritesThisTurn(stream: CorkableStream, owner?: HeldWritesOwner): boolean {
  if (held.has(stream)) return true;
  if (held.size === 0) process.nextTick(releaseHeldWrites);
  held.set(stream, owner);
  stream.cork();
  return false;
}

function releaseHeldWrites(): void {
  const streams = held;
  held = new Map();
  for (const [stream, owner] of streams) {
    stream.uncork();
    owner?.writesReleased();
  }
}

// A process that exits before the turn ends still writes what it held (a socket write is tried at
// once; what the kernel takes is sent).
process.on('exit', releaseHeldWrites);

/** What `holdRedisWritesThisTurn` reads of an ioredis client: a server connection's socket. */
interface RedisConnection {
  readonly status: string;
  readonly stream?: CorkableStream & { readonly writable: boolean };
}

/**
 * Holds the writes of a Redis server connection (an ioredis `Redis`) this turn: the commands it is
 * handed from now to the end of the turn go out in one write, each still sent, answered and timed
 * out by ioredis as before, in the same order. A connection that is not ready (its commands queue
 * or fail inside ioredis) and a cluster client (a connection per node) are left as they are.
 */
export function holdRedisWritesThisTurn(client: object): void {
  const { status, stream } = client as Partial<RedisConnection>;
  if (status === 'ready' && stream?.writable) holdWritesThisTurn(stream);
}
