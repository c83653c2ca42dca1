import WebSocket from 'ws';

/**
 * A deliberately small Socket.IO client: Engine.IO v4 / Socket.IO v5 over a raw `ws` WebSocket, no
 * reconnection, no binary attachments, no polling. It answers pings, sends the CONNECT packet with the
 * token, emits events with acks, and hands every incoming frame to `onFrame` untouched, so a load
 * process can hold thousands of them and count deliveries without parsing (https://socket.io/docs/v4/socket-io-protocol/).
 */
export class WireSocket {
  private readonly acks = new Map<number, (payload: unknown) => void>();
  private nextAck = 0;
  private closed = false;

  private constructor(
    private readonly ws: WebSocket,
    /** Milliseconds from opening the WebSocket to the server's CONNECT acknowledgement. */
    readonly handshakeMs: number,
  ) {}

  /**
   * Opens `<baseUrl>/socket.io/?EIO=4&transport=websocket` (plus `query`), sends CONNECT with
   * `{ token }` and resolves once the namespace is joined; rejects with the `connect_error` message.
   */
  static open(
    baseUrl: string,
    token: string,
    options: {
      query?: Record<string, string>;
      onFrame?: (frame: Buffer) => void;
      timeoutMs?: number;
    } = {},
  ): Promise<WireSocket> {
    const url = new URL('/socket.io/', baseUrl.replace(/^http/, 'ws'));
    url.searchParams.set('EIO', '4');
    url.searchParams.set('transport', 'websocket');
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
    const started = performance.now();
    const ws = new WebSocket(url, { perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      let socket: WireSocket | undefined;
      const timer = setTimeout(() => fail(new Error('handshake timed out')), options.timeoutMs ?? 15_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        ws.terminate();
        reject(err);
      };
      ws.on('error', (err) => (socket ? undefined : fail(err)));
      ws.on('close', () => {
        if (!socket) fail(new Error('closed during handshake'));
        else socket.closed = true;
      });
      ws.on('message', (data: Buffer) => {
        const type = data[0];
        if (type === 0x32 /* '2' ping */) return void ws.send('3');
        if (socket) {
          if (data[1] === 0x33 /* '43' ack */) socket.settleAck(data);
          else options.onFrame?.(data);
          return;
        }
        const text = data.toString('utf8');
        if (text.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
        else if (text.startsWith('40')) {
          clearTimeout(timer);
          socket = new WireSocket(ws, performance.now() - started);
          resolve(socket);
        } else if (text.startsWith('44')) {
          const reason = (JSON.parse(text.slice(2)) as { message?: string }).message ?? text;
          fail(new Error(`connect_error: ${reason}`));
        }
      });
    });
  }

  /** Emits `event` without waiting for its ack. */
  send(event: string, payload: unknown): void {
    if (!this.closed) this.ws.send(`42${JSON.stringify([event, payload])}`);
  }

  /** Sends a Socket.IO packet already encoded (e.g. `42["publish",{...}]`), without an ack. */
  sendRaw(packet: string): void {
    if (!this.closed) this.ws.send(packet);
  }

  /** Emits `event` and resolves with the server's ack payload. */
  request<T = { ok: boolean }>(event: string, payload: unknown, timeoutMs = 30_000): Promise<T> {
    const id = this.nextAck++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        reject(new Error(`${event}: no ack within ${timeoutMs} ms`));
      }, timeoutMs);
      this.acks.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer as T);
      });
      this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
    });
  }

  /** Joins `room`; throws with the error code when refused. */
  async join(room: string): Promise<void> {
    const ack = await this.request<{ ok: boolean; error?: { code: string } }>('join', { room });
    if (!ack.ok) throw new Error(`join ${room}: ${ack.error?.code ?? 'refused'}`);
  }

  close(): void {
    this.closed = true;
    this.ws.terminate();
  }

  private settleAck(frame: Buffer): void {
    const text = frame.toString('utf8');
    const bracket = text.indexOf('[');
    const id = Number(text.slice(2, bracket));
    const settle = this.acks.get(id);
    if (!settle) return;
    this.acks.delete(id);
    settle((JSON.parse(text.slice(bracket)) as unknown[])[0]);
  }
}

const MESSAGE_PREFIX = Buffer.from('42["message",');

/** True when `frame` is a `message` event (an envelope delivered to a room). */
export function isMessageFrame(frame: Buffer): boolean {
  return (
    frame.length > MESSAGE_PREFIX.length &&
    frame.compare(MESSAGE_PREFIX, 0, MESSAGE_PREFIX.length, 0, MESSAGE_PREFIX.length) === 0
  );
}

/** The envelope of a `message` frame. */
export function messageEnvelope(frame: Buffer): { room: string; data: unknown } {
  return (JSON.parse(frame.toString('utf8', 2)) as [string, { room: string; data: unknown }])[1];
}
