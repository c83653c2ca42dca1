import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { newEnvelopeId, type Envelope, type EnvelopeId, type JsonValue } from '../envelope';
import { ERROR_CODES, type ErrorCode } from '../errors';
// Types only, from the zod-free events module: the SDK must not pull zod into browsers.
import type { ClientEvents, PresenceEvent, PresenceList, ServerEvents, SessionInfo } from '../socket-events';
import { TypedEmitter } from './event-emitter';
import { RoomFeed } from './room-feed';

/** Options of `RealtimeClient`. Only `url` and `token` are required. */
export interface RealtimeClientOptions {
  /** The edge URL (or any region node or load balancer URL). */
  url: string;
  /** The access token, or a function asked for one before every (re)connect. */
  token: string | (() => string | Promise<string>);
  /** How long a request waits for its ack before it counts as timed out. Default 5000. */
  ackTimeoutMs?: number;
  /** Publish attempts (same id each time) before `publish` gives up. Default 5. */
  publishAttempts?: number;
  /** Ids remembered per room to drop duplicates. Default 1000. */
  rememberIds?: number;
  /** Default `['websocket']`; add 'polling' where WebSockets are blocked. */
  transports?: ('websocket' | 'polling')[];
  /** Passed to socket.io-client as they are (e.g. `query`, `extraHeaders` in Node). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

/** Codes a request can fail with: the contract's, plus `timeout` (no ack in time). */
export type RealtimeErrorCode = ErrorCode | 'timeout';

/** A failed request, with the contract's error code. */
export class RealtimeError extends Error {
  constructor(
    readonly code: RealtimeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RealtimeError';
  }
}

/** Events of a `RealtimeClient`. */
export interface RealtimeClientEvents {
  /** A room envelope, each id once, `missed` ones before live ones after a rejoin. */
  message: (envelope: Envelope) => void;
  presence: (event: PresenceEvent) => void;
  /** The region and node of each new connection. */
  session: (info: SessionInfo) => void;
  /**
   * A room was joined again after a reconnect, or after the node said live delivery may have skipped
   * envelopes (`resync`); `missed` envelopes were emitted as `message`.
   * `recovered` false: the server could not answer everything missed; page back with `history`.
   */
  rejoined: (info: { room: string; missed: number; recovered: boolean }) => void;
  disconnected: (reason: string) => void;
  /** The server closed this connection for good (server API disconnect): it does not reconnect. */
  closed: (info: { reason: string }) => void;
  /** Something failed in the background (a rejoin, or a refused handshake). */
  error: (error: RealtimeError) => void;
}

/** Most `history` pages one rejoin reads to fill what `missed` could not hold. */
const GAP_FILL_PAGES = 20;
/** Tries of one gap-filling page the server refuses as `rate_limited` (it paces answer bytes). */
const GAP_PAGE_ATTEMPTS = 6;
const GAP_PAGE_SIZE = 100;

const RETRYABLE: ReadonlySet<RealtimeErrorCode> = new Set(['timeout', 'unavailable', 'rate_limited']);
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 5_000;

type Ack<T> = ({ ok: true } & T) | { ok: false; error: { code: ErrorCode; message: string } };

/**
 * The client SDK: one Socket.IO connection through the edge URL, rooms that survive reconnects
 * without gaps or repeats, and publishes that are safe to retry.
 *
 * - `join` remembers the room; after any reconnect (network loss, node crash, `drain`) every room is
 *   joined again with `since` = the last envelope received, and the `missed` envelopes are emitted
 *   before live ones. The same happens for one room when the node sends `resync` (its region's
 *   Redis lost a connection and live delivery may have skipped envelopes). Envelopes are dropped
 *   when their id was already emitted.
 * - `publish` makes the envelope id (UUIDv7) up front and retries with the same id on a timeout or an
 *   `unavailable`/`rate_limited` answer, so the message is delivered once.
 */
export class RealtimeClient extends TypedEmitter<RealtimeClientEvents> {
  private readonly socket: Socket<ServerEvents, ClientEvents>;
  private readonly rooms = new Map<string, RoomFeed>();
  private readonly ackTimeoutMs: number;
  private readonly publishAttempts: number;
  private readonly rememberIds: number;
  private connectedOnce = false;
  private closed = false;
  private handshakeRetries = 0;
  private readonly tokenSource: RealtimeClientOptions['token'];
  /** `exp` of the token the current (or next) connection was opened with. */
  private connectedExp: number | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** Rooms told to resync while a join of theirs was in flight, with the resync's `since`. */
  private readonly resyncAfterJoin = new Map<string, EnvelopeId>();

  constructor(options: RealtimeClientOptions) {
    super();
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
    this.publishAttempts = options.publishAttempts ?? 5;
    this.rememberIds = options.rememberIds ?? 1_000;
    const { token } = options;
    this.tokenSource = token;
    this.socket = io(options.url, {
      transports: options.transports ?? ['websocket'],
      reconnectionDelay: RETRY_BASE_MS,
      reconnectionDelayMax: RETRY_MAX_MS,
      ...options.socketOptions,
      // A function, so every reconnect asks for the current token.
      auth: (send) => {
        Promise.resolve()
          .then(() => (typeof token === 'function' ? token() : token))
          .then(
            (t) => {
              this.connectedExp = tokenExp(t);
              send({ token: t });
            },
            // No token now (its source failed): give this attempt up and try again later.
            (err: unknown) => this.tokenFailed(err),
          );
      },
    });
    this.socket.on('connect', () => this.onConnected());
    this.socket.on('connect_error', (err) => this.handshakeFailed(err));
    this.socket.on('disconnect', (reason) => this.emit('disconnected', reason));
    this.socket.on('session', (info) => this.emit('session', info));
    this.socket.on('presence', (event) => this.emit('presence', event));
    this.socket.on('disconnected', (info) => this.emit('closed', info));
    this.socket.on('message', (envelope) => this.received(envelope));
    // Live delivery of the room may have skipped envelopes (e.g. a Redis master failover in the
    // region): the same rejoin as after a reconnect fills the gap.
    this.socket.on('resync', ({ room, since }) => this.resyncRoom(room, since));
    // The node closes the connection right after; socket.io-client reconnects, asking the token
    // source for a fresh token (a fixed token string then fails with `unauthorized`).
    this.socket.on('expired', ({ exp }) =>
      this.emit('error', new RealtimeError('unauthorized', `token expired at ${exp}; reconnecting`)),
    );
    // The node is going away: reconnect through the URL, which leads to another node or region.
    this.socket.on('drain', () => {
      this.socket.disconnect();
      if (!this.closed) this.socket.connect();
    });
  }

  /** Whether the connection is up right now. */
  get connected(): boolean {
    return this.socket.connected;
  }

  /** The id of the last envelope of `room` emitted as `message` (the next rejoin's `since`). */
  lastId(room: string): EnvelopeId | undefined {
    return this.rooms.get(room)?.lastId;
  }

  /**
   * Joins `room` (kept across reconnects until `leave`); resolves with the envelopes emitted as
   * missed, and whether they are all that was missed (`recovered`; else page back with `history`).
   */
  async join(room: string): Promise<{ missed: Envelope[]; recovered: boolean }> {
    let feed = this.rooms.get(room);
    if (!feed) this.rooms.set(room, (feed = new RoomFeed(room, this.rememberIds)));
    return this.sendJoin(feed, this.publishAttempts);
  }

  async leave(room: string): Promise<void> {
    this.rooms.delete(room);
    await this.request('leave', { room });
  }

  /**
   * Publishes `data` to `room`. The id is made here (or given) and reused on every retry, so a retry
   * after a lost ack is answered with the first ack and delivered once. `ephemeral: true` (typing
   * indicators, cursors): delivered live in every region, never stored, so never in `missed` or
   * `history`.
   */
  async publish(
    room: string,
    data: JsonValue,
    options: { id?: EnvelopeId; ephemeral?: boolean } = {},
  ): Promise<{ id: EnvelopeId; ts: number }> {
    const id = options.id ?? newEnvelopeId();
    this.rooms.get(room)?.markOwn(id);
    const payload = options.ephemeral ? { room, data, id, ephemeral: true } : { room, data, id };
    for (let attempt = 1; ; attempt++) {
      try {
        const ack = await this.request('publish', payload);
        return { id: ack.id as EnvelopeId, ts: ack.ts };
      } catch (err) {
        const retryable = err instanceof RealtimeError && RETRYABLE.has(err.code);
        if (!retryable || attempt >= this.publishAttempts || this.closed) throw err;
        await sleep(Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), RETRY_MAX_MS));
      }
    }
  }

  /** A page of stored history before `before` (an envelope id), oldest first. */
  async history(room: string, query: { before?: EnvelopeId; limit?: number } = {}): Promise<Envelope[]> {
    return (await this.request('history', { room, ...query })).messages;
  }

  /** Who is in `room`: the first members (one per user and region, with `info`) and the exact `count`. */
  async presence(room: string): Promise<PresenceList> {
    const { members, count } = await this.request('presence', { room });
    return { members, count };
  }

  /** Closes the connection for good. */
  close(): void {
    this.closed = true;
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    this.socket.disconnect();
  }

  /**
   * Joins with `since`; retries (timeouts, `unavailable`) up to `attempts` times while the room is
   * wanted. A resync asked for while it was in flight joins once more after it: this answer may have
   * been read before what the resync is about.
   */
  private async sendJoin(
    feed: RoomFeed,
    attempts: number,
    sinceAtMost?: EnvelopeId,
  ): Promise<{ missed: Envelope[]; recovered: boolean }> {
    try {
      return await this.joinAttempts(feed, attempts, sinceAtMost);
    } finally {
      const again = this.resyncAfterJoin.get(feed.room);
      if (again !== undefined) {
        this.resyncAfterJoin.delete(feed.room);
        this.resyncRoom(feed.room, again);
      }
    }
  }

  private async joinAttempts(
    feed: RoomFeed,
    attempts: number,
    sinceAtMost: EnvelopeId | undefined,
  ): Promise<{ missed: Envelope[]; recovered: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const since = feed.beginJoin(sinceAtMost);
      let answer: Envelope[] = [];
      let recovered = true;
      try {
        const ack = await this.request('join', since ? { room: feed.room, since } : { room: feed.room });
        answer = ack.missed;
        // A server without the field answered everything it had.
        recovered = ack.recovered !== false;
        if (!recovered && since) {
          const gap = await this.fillGap(feed.room, since, answer[0]?.id);
          answer = [...gap.envelopes, ...answer];
          recovered = gap.complete;
        }
      } catch (err) {
        const retryable = err instanceof RealtimeError && RETRYABLE.has(err.code);
        if (!retryable || attempt >= attempts || this.closed || this.rooms.get(feed.room) !== feed) {
          throw err;
        }
        await sleep(Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), RETRY_MAX_MS));
        continue;
      } finally {
        // Missed first, then what arrived live meanwhile (also when the join failed).
        const { missed, live } = feed.endJoin(answer);
        for (const envelope of [...missed, ...live]) this.emit('message', envelope);
        answer = missed;
      }
      return { missed: answer, recovered };
    }
  }

  /**
   * Pages `history` back from `before` until `since`: the envelopes after `since` that `missed`
   * could not hold, oldest first. `complete` false when history failed or the page cap was reached.
   */
  private async fillGap(
    room: string,
    since: EnvelopeId,
    before: EnvelopeId | undefined,
  ): Promise<{ envelopes: Envelope[]; complete: boolean }> {
    const pages: Envelope[][] = [];
    let cursor = before;
    for (let page = 0; page < GAP_FILL_PAGES; page++) {
      const messages = await this.historyPage(room, cursor);
      if (!messages) break;
      // UUIDv7 ids sort by time: what is not after `since` was seen already.
      const after = messages.filter((e) => e.id > since);
      pages.unshift(after);
      // A short page is not the end: the server may have cut it to its answer budget.
      if (after.length < messages.length || messages.length === 0) {
        return { envelopes: pages.flat(), complete: true };
      }
      cursor = messages[0]!.id;
    }
    return { envelopes: pages.flat(), complete: false };
  }

  /**
   * One page for `fillGap`, or undefined when history cannot answer. The server paces the answer
   * bytes of one connection (`rate_limited`): then the same page is asked again a little later.
   */
  private async historyPage(room: string, before: EnvelopeId | undefined): Promise<Envelope[] | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.history(room, { ...(before ? { before } : {}), limit: GAP_PAGE_SIZE });
      } catch (err) {
        const paced = err instanceof RealtimeError && err.code === 'rate_limited';
        if (!paced || attempt >= GAP_PAGE_ATTEMPTS || this.closed) return undefined;
        await sleep(Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), RETRY_MAX_MS));
      }
    }
  }

  /** Renews the token over the open connection a little before it expires (token functions only). */
  private scheduleRefresh(exp: number | undefined): void {
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    if (exp === undefined || typeof this.tokenSource !== 'function' || this.closed) return;
    const left = exp * 1000 - Date.now();
    const lead = Math.min(60_000, Math.max(1_000, left / 5));
    this.refreshTimer = setTimeout(() => void this.refreshToken(exp), Math.max(0, left - lead));
  }

  private async refreshToken(exp: number): Promise<void> {
    if (!this.socket.connected || typeof this.tokenSource !== 'function') return;
    try {
      const ack = await this.request('auth', { token: await this.tokenSource() });
      for (const room of ack.left) {
        this.rooms.delete(room);
        this.emit('error', new RealtimeError('forbidden', `the new token no longer grants ${room}`));
      }
      this.scheduleRefresh(ack.exp);
    } catch (err) {
      this.emit('error', asRealtimeError(err));
      // Try again shortly while the token lasts; past `exp` the node closes and a reconnect follows.
      if (Date.now() < exp * 1000 - 1_000) {
        this.refreshTimer = setTimeout(() => void this.refreshToken(exp), 1_000);
      }
    }
  }

  private onConnected(): void {
    this.handshakeRetries = 0;
    this.scheduleRefresh(this.connectedExp);
    if (!this.connectedOnce) {
      this.connectedOnce = true;
      return;
    }
    for (const feed of this.rooms.values()) {
      if (!feed.joining) this.rejoin(feed);
    }
  }

  /** Joins `feed`'s room again with `since`, in the background, until it succeeds or is left. */
  private rejoin(feed: RoomFeed, sinceAtMost?: EnvelopeId): void {
    this.sendJoin(feed, Infinity, sinceAtMost).then(
      ({ missed, recovered }) => this.emit('rejoined', { room: feed.room, missed: missed.length, recovered }),
      (err: unknown) => this.emit('error', asRealtimeError(err)),
    );
  }

  /** The node says live delivery of `room` may have skipped envelopes since the time of `since`. */
  private resyncRoom(room: string, since: EnvelopeId): void {
    const feed = this.rooms.get(room);
    if (!feed || this.closed) return;
    if (!feed.joining) return this.rejoin(feed, since);
    const pending = this.resyncAfterJoin.get(room);
    this.resyncAfterJoin.set(room, pending !== undefined && pending < since ? pending : since);
  }

  private received(envelope: Envelope): void {
    const feed = this.rooms.get(envelope.room);
    if (!feed) return;
    for (const fresh of feed.live(envelope)) this.emit('message', fresh);
  }

  /** socket.io-client retries transport failures itself; a refused handshake needs a new attempt. */
  private tokenFailed(err: unknown): void {
    this.emit(
      'error',
      new RealtimeError('unavailable', `no token: ${err instanceof Error ? err.message : String(err)}`),
    );
    this.socket.disconnect();
    this.retryConnect();
  }

  private retryConnect(): void {
    const delay = Math.min(RETRY_BASE_MS * 2 ** this.handshakeRetries++, RETRY_MAX_MS);
    setTimeout(() => !this.closed && this.socket.connect(), delay);
  }

  private handshakeFailed(err: Error): void {
    if (this.socket.active || this.closed) return;
    const code = (ERROR_CODES as readonly string[]).includes(err.message)
      ? (err.message as ErrorCode)
      : 'unavailable';
    this.emit('error', new RealtimeError(code, `connection refused: ${err.message}`));
    if (code === 'unauthorized' || code === 'forbidden') return;
    this.retryConnect();
  }

  private async request<E extends keyof ClientEvents>(
    event: E,
    payload: Parameters<ClientEvents[E]>[0],
  ): Promise<Extract<Parameters<Parameters<ClientEvents[E]>[1]>[0], { ok: true }>> {
    let answer: Ack<object>;
    try {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      answer = await (this.socket.timeout(this.ackTimeoutMs) as any).emitWithAck(event, payload);
    } catch {
      throw new RealtimeError('timeout', `${event}: no answer within ${this.ackTimeoutMs} ms`);
    }
    if (!answer.ok) throw new RealtimeError(answer.error.code, answer.error.message);
    return answer as Extract<Parameters<Parameters<ClientEvents[E]>[1]>[0], { ok: true }>;
  }
}

/** The `exp` claim of a JWT, read without verifying it (the server does that); undefined if unreadable. */
function tokenExp(token: string): number | undefined {
  try {
    const part = token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    const exp: unknown = JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, '='))).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

function asRealtimeError(err: unknown): RealtimeError {
  return err instanceof RealtimeError ? err : new RealtimeError('unavailable', String(err));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
