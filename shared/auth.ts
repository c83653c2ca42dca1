import { errors, jwtVerify } from 'jose';
import { z } from 'zod';
import { ProtocolError } from './errors';
import { ROOM_PATTERN } from './rooms';

/**
 * A room pattern from a token's `rooms` claim: an exact room name, or a prefix ending in `*`
 * (`chat:*`), or `*` alone for every room.
 */
export const roomPatternSchema = z
  .string()
  .regex(ROOM_PATTERN, 'pattern must be a room name or a prefix ending in *')
  .refine((p) => p.length > 0, 'pattern must not be empty');

/** The claims a token must carry (HS256 JWT signed with `JWT_SECRET`). */
export const tokenClaimsSchema = z.object({
  sub: z.string().min(1).max(256),
  exp: z.number(),
  rooms: z.array(roomPatternSchema).max(256),
  iat: z.number().optional(),
});

export type TokenClaims = z.infer<typeof tokenClaimsSchema>;

/** Who is calling, once their token has been verified. */
export interface Principal {
  user: string;
  rooms: string[];
  /** When the token was issued (`iat`, seconds), if it says; revocations compare against it. */
  iat?: number | undefined;
}

const encoder = new TextEncoder();

/**
 * Verifies an access token (HS256 with `secret`, `exp` required) and returns its principal.
 * Every failure (missing, malformed, forged, expired, wrong claims) is the contract's `unauthorized`.
 */
export async function verifyAccessToken(token: unknown, secret: string): Promise<Principal> {
  if (typeof token !== 'string' || token.length === 0) {
    throw new ProtocolError('unauthorized', 'missing token');
  }
  try {
    const { payload } = await jwtVerify(token, encoder.encode(secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
    });
    const claims = tokenClaimsSchema.safeParse(payload);
    if (!claims.success) throw new ProtocolError('unauthorized', 'token claims are invalid');
    return { user: claims.data.sub, rooms: claims.data.rooms, iat: claims.data.iat };
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    const message = err instanceof errors.JWTExpired ? 'token expired' : 'invalid token';
    throw new ProtocolError('unauthorized', message);
  }
}
