import type { RegionSocket } from './region-socket';

/** How often the node looks for sockets whose token has expired. */
const SWEEP_INTERVAL_MS = 500;

/**
 * Ends every socket when its token expires: at `exp` it gets `expired { exp }` and is disconnected,
 * within a second of `exp`. One interval for the whole node over buckets of whole seconds, rather
 * than a timer per socket: an idle socket costs one Set entry here.
 */
export class SessionExpiry {
  /** Sockets by the whole second (ceil of `exp`) at which they expire. */
  private readonly buckets = new Map<number, Set<RegionSocket>>();
  /** Every second up to this one has been swept. */
  private swept = Math.floor(Date.now() / 1000);
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly onExpired: (socket: RegionSocket, exp: number) => void) {}

  start(): void {
    this.timer ??= setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Watches `socket` until `exp` (seconds since the epoch; a past `exp` expires on the next sweep). */
  track(socket: RegionSocket, exp: number): void {
    const second = Math.max(Math.ceil(exp), this.swept + 1);
    socket.data.expiryBucket = second;
    let bucket = this.buckets.get(second);
    if (!bucket) this.buckets.set(second, (bucket = new Set()));
    bucket.add(socket);
  }

  /** Stops watching `socket`. */
  untrack(socket: RegionSocket): void {
    const second = socket.data.expiryBucket;
    const bucket = this.buckets.get(second);
    bucket?.delete(socket);
    if (bucket?.size === 0) this.buckets.delete(second);
  }

  /** Number of sockets watched (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const bucket of this.buckets.values()) n += bucket.size;
    return n;
  }

  private sweep(now: number): void {
    const upTo = Math.floor(now / 1000);
    for (let second = this.swept + 1; second <= upTo; second++) {
      const bucket = this.buckets.get(second);
      if (!bucket) continue;
      this.buckets.delete(second);
      for (const socket of bucket) {
        const { exp } = socket.data.principal;
        // A socket that refreshed its token was tracked again under its new `exp`.
        if (Math.ceil(exp) <= upTo) this.onExpired(socket, exp);
      }
    }
    this.swept = Math.max(this.swept, upTo);
  }
}
