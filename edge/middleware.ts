import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { EdgeConfigError, edgeConfig } from './config';
import type { EdgeEnv } from './env';
import { errorResponse } from './errors';
import { EDGE_REGION_HEADER, REQUEST_ID_HEADER } from './proxy';

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Gives every request an id (the caller's `x-request-id` when well formed, else a new UUID), passes
 * it to the region and returns it. A WebSocket's 101 response is left untouched: copying it would
 * drop the socket.
 */
export function requestIds(): MiddlewareHandler<EdgeEnv> {
  return async function requestId(c, next) {
    const given = c.req.header(REQUEST_ID_HEADER);
    c.set('requestId', given && CLIENT_REQUEST_ID.test(given) ? given : crypto.randomUUID());
    await next();
    if (c.res.status !== 101) c.header(REQUEST_ID_HEADER, c.get('requestId'));
  };
}

/** Parses the bindings (once per isolate); a bad configuration answers 500 with what is wrong. */
export function configuration(): MiddlewareHandler<EdgeEnv> {
  return async function loadConfig(c, next) {
    try {
      c.set('config', edgeConfig(c.env));
    } catch (err) {
      if (!(err instanceof EdgeConfigError)) throw err;
      return errorResponse(c, 'unavailable', `edge misconfigured: ${err.message}`, 500);
    }
    await next();
  };
}

/** CORS for the HTTP API, with the origins from `CORS_ORIGINS`. */
export function apiCors(): MiddlewareHandler<EdgeEnv> {
  const handler = cors({
    origin: (origin, c) => {
      const allowed = (c.get('config') as EdgeEnv['Variables']['config']).corsOrigins;
      if (allowed === '*') return '*';
      return allowed.includes(origin) ? origin : null;
    },
    allowMethods: ['GET', 'POST', 'OPTIONS'],
    allowHeaders: ['authorization', 'content-type', REQUEST_ID_HEADER],
    exposeHeaders: [REQUEST_ID_HEADER, EDGE_REGION_HEADER],
    maxAge: 600,
  });
  return async function corsForApi(c, next) {
    return handler(c, next);
  };
}
