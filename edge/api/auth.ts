import type { Context } from 'hono';
import { ProtocolError } from '../../shared/errors';
import { SERVER_API_KEY_HEADER, serverKeyMatches } from '../../shared/server-keys';
import type { EdgeEnv } from '../env';
import { errorResponse } from '../errors';

/**
 * Who may call: `user` routes (`/v1/rooms/...`) take a bearer token or a server API key; `server`
 * routes (`/v1/broadcast`, `/v1/users/...`) take a server API key only.
 */
export type ApiCallers = 'user' | 'server';

/** Checks the caller's credentials; returns the refusal, or undefined when they may go on. */
export async function authenticate(c: Context<EdgeEnv>, callers: ApiCallers): Promise<Response | undefined> {
  const config = c.get('config');
  const apiKey = c.req.header(SERVER_API_KEY_HEADER);
  if (apiKey !== undefined || callers === 'server') {
    if (await serverKeyMatches(apiKey, config.serverApiKeys)) return undefined;
    const message =
      apiKey === undefined ? 'this call needs a server API key (header x-api-key)' : 'invalid server API key';
    return errorResponse(c, 'unauthorized', message);
  }
  if (!config.verifyToken) {
    const message = 'edge misconfigured: no JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL';
    return errorResponse(c, 'unavailable', message, 500);
  }
  const header = c.req.header('authorization') ?? '';
  const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
  try {
    await config.verifyToken(token);
    return undefined;
  } catch (err) {
    if (err instanceof ProtocolError) return errorResponse(c, err.code, err.message);
    throw err;
  }
}
