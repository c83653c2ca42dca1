import { Hono, type Context } from 'hono';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { tokenClaimsSchema } from '../../shared/auth';
import { invalidFrom } from '../../shared/protocol';
import type { EdgeEnv } from '../env';
import { errorResponse } from '../errors';

const devTokenQuery = z.object({
  sub: tokenClaimsSchema.shape.sub,
  rooms: z
    .string()
    .default('*')
    .transform((value) => value.split(',').map((p) => p.trim()))
    .pipe(tokenClaimsSchema.shape.rooms),
  /** Lifetime in seconds (default one hour, at most a day). */
  ttl: z.coerce.number().int().min(1).max(86_400).default(3_600),
});

/** What exists only in the simulation (mounted at `/dev`): `GET /dev/token`. */
export function devRoutes(): Hono<EdgeEnv> {
  return new Hono<EdgeEnv>().get('/token', devToken);
}

/**
 * `GET /dev/token?sub=NAME&rooms=PATTERN,...` (SIM = "1" only): a signed access token for trying
 * the platform locally. Outside the simulation the path does not exist.
 */
async function devToken(c: Context<EdgeEnv>): Promise<Response> {
  const config = c.get('config');
  if (!config.sim) return errorResponse(c, 'not_found', `no route for ${c.req.method} ${c.req.path}`);
  if (!config.jwtSecret)
    return errorResponse(c, 'unavailable', 'edge misconfigured: JWT_SECRET is not set', 500);
  const query = devTokenQuery.safeParse(c.req.query());
  if (!query.success) {
    const error = invalidFrom(query.error);
    return errorResponse(c, error.code, error.message);
  }
  const { sub, rooms, ttl } = query.data;
  const exp = Math.floor(Date.now() / 1000) + ttl;
  const token = await new SignJWT({ rooms })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(config.jwtSecret));
  return c.json({ token, sub, rooms, exp });
}
