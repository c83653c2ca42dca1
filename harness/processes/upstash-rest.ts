import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis, ReplyError } from 'ioredis';

/** A local Upstash REST endpoint over a real Redis, for `@upstash/redis` clients (the edge). */
export interface UpstashRestServer {
  /** Base URL, as `UPSTASH_REDIS_REST_URL`. */
  readonly url: string;
  /** Bearer token, as `UPSTASH_REDIS_REST_TOKEN`. */
  readonly token: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface UpstashRestOptions {
  /** The Redis to serve, e.g. `redis://127.0.0.1:6379`. */
  redisUrl: string;
  token: string;
  /** 0 or unset: a free port. */
  port?: number;
  host?: string;
}

type Command = (string | number | boolean)[];
type Reply = Buffer | string | number | null | Reply[];

/**
 * Speaks the Upstash REST protocol as serverless-redis-http does: `POST /` with one command as a
 * JSON array, `POST /pipeline` and `POST /multi-exec` with an array of commands, `GET|POST
 * /cmd/arg/...` with the command in the path; `Authorization: Bearer <token>`; with header
 * `Upstash-Encoding: base64`, bulk strings in results are base64 (simple `OK` stays as is).
 */
export async function startUpstashRest(options: UpstashRestOptions): Promise<UpstashRestServer> {
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined); // each failing command answers its own error
  await redis.connect();
  const server = createServer((req, res) => {
    handle(redis, options.token, req, res).catch((err: Error) => reply(res, 500, { error: err.message }));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    token: options.token,
    port,
    async stop() {
      await close(server);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

async function handle(redis: Redis, token: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.headers.authorization !== `Bearer ${token}`) return reply(res, 401, { error: 'Unauthorized' });
  const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
  const encode = (value: Reply) => encodeReply(value, base64);
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const body = await readBody(req);

  if (path === '/pipeline' || path === '/multi-exec') {
    const commands = parseCommands(body, true);
    if (!commands) return reply(res, 400, { error: 'ERR body must be an array of commands' });
    if (path === '/pipeline') {
      const results = [];
      for (const command of commands) {
        try {
          results.push({ result: encode(await run(redis, command)) });
        } catch (err) {
          results.push({ error: errorText(err) });
        }
      }
      return reply(res, 200, results);
    }
    const transaction = redis.multi();
    for (const [name, ...args] of commands) transaction.callBuffer(String(name), ...args.map(String));
    const exec = await transaction.exec();
    if (!exec) return reply(res, 400, { error: 'ERR transaction aborted' });
    return reply(
      res,
      200,
      exec.map(([err, value]) => (err ? { error: errorText(err) } : { result: encode(asReply(value)) })),
    );
  }

  const command =
    path === '/' ? parseCommands(body, false)?.[0] : path.split('/').filter(Boolean).map(decodeURIComponent);
  if (!command || command.length === 0) return reply(res, 400, { error: 'ERR body must be a command array' });
  try {
    reply(res, 200, { result: encode(await run(redis, command)) });
  } catch (err) {
    reply(res, err instanceof ReplyError ? 400 : 500, { error: errorText(err) });
  }
}

async function run(redis: Redis, [name, ...args]: Command): Promise<Reply> {
  return asReply(await redis.callBuffer(String(name), ...args.map(String)));
}

/** ioredis turns HGETALL's flat array into an object; the REST protocol keeps the array. */
function asReply(value: unknown): Reply {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value) || typeof value === 'string' || typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map(asReply);
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => [Buffer.from(k), asReply(v)]);
}

function parseCommands(body: string, many: boolean): Command[] | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const isCommand = (c: unknown): c is Command =>
    Array.isArray(c) && c.length > 0 && c.every((a) => ['string', 'number', 'boolean'].includes(typeof a));
  if (many) return Array.isArray(json) && json.every(isCommand) ? json : undefined;
  return isCommand(json) ? [json] : undefined;
}

function encodeReply(value: Reply, base64: boolean): Reply {
  if (Array.isArray(value)) return value.map((v) => encodeReply(v, base64));
  if (Buffer.isBuffer(value)) {
    if (!base64) return value.toString('utf8');
    return value.equals(OK) ? 'OK' : value.toString('base64');
  }
  return value;
}

const OK = Buffer.from('OK');

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
