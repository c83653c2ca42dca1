import WebSocket from 'ws';

/**
 * A Socket.IO client written by hand over a raw WebSocket, speaking Engine.IO 4 / Socket.IO 5 text
 * packets: it can send what socket.io-client never would (numbers like 1e400, unknown events,
 * malformed packets, oversized frames).
 */
export interface RawClient {
  /** Sends a raw Socket.IO packet (the text after Engine.IO's `4`). */
  sendPacket(packet: string): void;
  /**
   * Emits `event` with `args` (already-encoded JSON text) and waits for the ack's first argument;
   * undefined when the connection closes first.
   */
  emitRaw(event: string, argsJson: string, timeoutMs?: number): Promise<unknown>;
  /** Server events received, in order: [name, ...args]. */
  readonly events: unknown[][];
  readonly closed: Promise<{ code: number }>;
  isOpen(): boolean;
  close(): void;
}

export async function connectRaw(
  url: string,
  token: string | undefined,
  options: { headers?: Record<string, string>; connect?: boolean } = {},
): Promise<RawClient> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, {
    headers: options.headers,
  });
  const acks = new Map<number, (value: unknown) => void>();
  const events: unknown[][] = [];
  let nextAck = 1;
  let open = false;
  const closed = new Promise<{ code: number }>((resolve) => ws.on('close', (code) => resolve({ code })));
  const connected = new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += String(chunk)));
      res.on('end', () => reject(new Error(`handshake refused: ${res.statusCode} ${body}`)));
    });
    ws.on('close', () => reject(new Error('closed before connect')));
    ws.on('message', (raw) => {
      const text = String(raw);
      if (text === '2') return ws.send('3');
      // A packet of another namespace (`44/nsp,{...}`: the server refusing a namespace the fuzzer
      // asked to connect to) is not this session's, whose packets carry no namespace.
      if (/^4\d(\d+-)?\//.test(text)) return;
      if (text.startsWith('0')) {
        open = true;
        if (options.connect === false) return resolve();
        return ws.send(`40${JSON.stringify(token === undefined ? {} : { token })}`);
      }
      if (text.startsWith('44')) return reject(new Error(JSON.parse(text.slice(2)).message));
      if (text.startsWith('40')) return resolve();
      if (text.startsWith('43')) {
        const match = /^43(\d+)(.*)$/s.exec(text);
        if (!match) return;
        const [first] = JSON.parse(match[2]!) as unknown[];
        acks.get(Number(match[1]))?.(first);
        acks.delete(Number(match[1]));
        return;
      }
      if (text.startsWith('42')) events.push(JSON.parse(text.slice(2)) as unknown[]);
    });
  });
  ws.on('close', () => {
    open = false;
    // No ack comes over a closed connection.
    for (const settle of acks.values()) settle(undefined);
    acks.clear();
  });
  await connected;
  return {
    sendPacket: (packet) => ws.send(`4${packet}`),
    emitRaw(event, argsJson, timeoutMs = 10_000) {
      const id = nextAck++;
      const args = argsJson === '' ? '' : `,${argsJson}`;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ack for ${event} in ${timeoutMs} ms`)),
          timeoutMs,
        );
        acks.set(id, (value) => {
          clearTimeout(timer);
          resolve(value);
        });
        if (!open) return resolve(undefined);
        ws.send(`42${id}[${JSON.stringify(event)}${args}]`);
      });
    },
    events,
    closed,
    isOpen: () => open && ws.readyState === WebSocket.OPEN,
    close: () => ws.close(),
  };
}
