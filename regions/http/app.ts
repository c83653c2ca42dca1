import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import {
  HTTP_STATUS,
  ProtocolError,
  historyPayload,
  parsePayload,
  presencePayload,
  publishBody,
  roomAllowed,
  roomNameSchema,
  secretIsOneOf,
  SERVER_API_KEY_HEADER,
  serverKeyMatches,
  type ErrorBody,
  type Principal,
  type TokenVerifier,
} from '../../shared';
import { jsonArray } from '../history/stored';
import type { RegionServices } from '../services';
import { SERVER_PRINCIPAL, registerServerApi, serverPublish, type ApiEnv } from './server-api';

export interface HttpAppOptions {
  region: string;
  nodeId: string;
  verifyToken: TokenVerifier;
  /** Accepted `x-edge-secret` values (current, and the previous one during a rotation); empty: none required. */
  edgeSecrets: readonly string[];
  /** `SERVER_API_KEYS`: a request with one of them in `x-api-key` is the application's backend. */
  serverApiKeys: readonly string[];
  maxPayloadBytes: number;
  /** Largest history answer, in bytes of JSON (`MAX_ANSWER_BYTES`): the newest of a page that fit. */
  maxAnswerBytes: number;
  services: RegionServices;
  /** Dependency states for `/readyz`; ready when critical dependencies are up and the node is not draining. */
  readiness: () => Promise<{ ready: boolean; checks: Record<string, string> }>;
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** True with METRICS_PORT: `/metrics` is served on the operator port, not here. */
  metricsElsewhere?: boolean;
}

type Env = ApiEnv;

/**
 * The region node's HTTP surface: the contract's room API (same paths as the edge) and the operator
 * endpoints. Operator endpoints (`/healthz`, `/readyz`, `/metrics`) are open to the load balancer and
 * the metrics scraper; everything under `/v1` requires `x-edge-secret` when EDGE_SECRET is set.
 */
export function createHttpApp(options: HttpAppOptions): Hono<Env> {
  const { services } = options;
  const app = new Hono<Env>();

  const fail = (c: Context, error: ErrorBody) =>
    c.json({ error }, HTTP_STATUS[error.code] as 400 | 401 | 403 | 404 | 413 | 429 | 503);

  app.onError((err, c) =>
    fail(c, services.toClientError(err, { route: c.req.routePath, method: c.req.method })),
  );
  app.notFound((c) => fail(c, { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` }));

  addOperatorRoutes(app, options, { metrics: !options.metricsElsewhere });

  app.use('/v1/*', async (c, next) => {
    if (
      options.edgeSecrets.length > 0 &&
      !secretIsOneOf(c.req.header('x-edge-secret'), options.edgeSecrets)
    ) {
      throw new ProtocolError('unauthorized', 'requests must come through the edge');
    }
    const apiKey = c.req.header(SERVER_API_KEY_HEADER);
    if (apiKey !== undefined) {
      if (!(await serverKeyMatches(apiKey, options.serverApiKeys))) {
        throw new ProtocolError('unauthorized', 'invalid server API key');
      }
      c.set('server', true);
      c.set('principal', SERVER_PRINCIPAL);
      return next();
    }
    const header = c.req.header('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
    c.set('server', false);
    const principal = await options.verifyToken(token);
    if (services.users.isRevoked(principal.user, principal.iat)) {
      throw new ProtocolError('unauthorized', 'token revoked');
    }
    c.set('principal', principal);
    await next();
  });

  const room = (c: Context) => parsePayload(roomNameSchema, c.req.param('room'));

  app.post(
    '/v1/rooms/:room/messages',
    bodyLimit({
      // JSON framing around `data` is small; the exact limit on `data` is checked by the publisher.
      maxSize: options.maxPayloadBytes + 1024,
      onError: () => {
        throw new ProtocolError('too_large', `body over ${options.maxPayloadBytes} bytes`);
      },
    }),
    async (c) => {
      if (c.get('server')) return serverPublish(c, services);
      const name = room(c);
      const body = parsePayload(publishBody, await c.req.json().catch(() => invalidJson()));
      const ack = await services.publisher.publish({
        principal: c.get('principal'),
        room: name,
        data: body.data,
        id: body.id,
        ephemeral: body.ephemeral,
        transport: 'http',
      });
      return c.json(ack, 202);
    },
  );

  app.get('/v1/rooms/:room/messages', async (c) => {
    const limit = c.req.query('limit');
    const query = parsePayload(historyPayload, {
      room: c.req.param('room'),
      before: c.req.query('before') || undefined,
      // Only plain digits count as a number here (Number() would take '0x10', '1e1' or ' 5').
      limit:
        limit === undefined || limit === '' ? undefined : /^\d{1,4}$/.test(limit) ? Number(limit) : limit,
    });
    mayAccess(c.get('principal'), query.room);
    const messages = await services.history.page(query.room, query, options.maxAnswerBytes);
    // The stored envelopes go out as the JSON they were read as, never decoded here.
    return c.body(`{"messages":${jsonArray(messages)}}`, 200, { 'content-type': 'application/json' });
  });

  app.get('/v1/rooms/:room/presence', async (c) => {
    const { room: name } = parsePayload(presencePayload, { room: c.req.param('room') });
    mayAccess(c.get('principal'), name);
    return c.json(await services.presence.members(name));
  });

  registerServerApi(app, { services, maxPayloadBytes: options.maxPayloadBytes });
  return app;
}

/**
 * `/healthz`, `/readyz` and (unless `metrics` is false) `/metrics`. With METRICS_PORT they are all
 * also served on that port, and `/metrics` only there, out of the public load balancer's reach.
 */
export function addOperatorRoutes(
  app: Hono<Env>,
  options: Pick<HttpAppOptions, 'region' | 'nodeId' | 'readiness' | 'metrics'>,
  include: { metrics: boolean } = { metrics: true },
): Hono<Env> {
  app.get('/healthz', (c) => c.json({ status: 'ok', region: options.region, node: options.nodeId }));
  app.get('/readyz', async (c) => {
    const { ready, checks } = await options.readiness();
    return c.json(
      { status: ready ? 'ready' : 'not_ready', region: options.region, node: options.nodeId, checks },
      ready ? 200 : 503,
    );
  });
  if (include.metrics) {
    app.get('/metrics', async (c) => {
      const { contentType, body } = await options.metrics();
      return c.body(body, 200, { 'content-type': contentType });
    });
  }
  return app;
}

function invalidJson(): never {
  throw new ProtocolError('invalid', 'body must be JSON');
}

function mayAccess(principal: Principal, room: string): void {
  if (!roomAllowed(principal.rooms, room)) throw new ProtocolError('forbidden', `not allowed in ${room}`);
}
