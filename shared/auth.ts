import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWTHeaderParameters,
  type FlattenedJWSInput,
} from 'jose';
import { z } from 'zod';
import { encodedSize, type JsonValue } from './envelope';
import { ProtocolError } from './errors';
import { jsonValueProblem } from './json-value';
import { ROOM_PATTERN } from './rooms';

/**
 * A room pattern from a token's `rooms` claim: an exact room name, or a prefix ending in `*`
 * (`chat:*`), or `*` alone for every room.
 */
export const roomPatternSchema = z
  .string()
  .regex(ROOM_PATTERN, 'pattern must be a room name or a prefix ending in *')
  .refine((p) => p.length > 0, 'pattern must not be empty');

/** Largest `info` claim, in bytes of JSON: it is shown to others in presence. */
export const MAX_INFO_BYTES = 1024;

/** Seconds a token's `exp`, `nbf` and `iat` may be off, for clocks that disagree a little. */
export const CLOCK_TOLERANCE_S = 5;

/** Shortest HS256 secret the nodes and the edge accept. */
export const MIN_JWT_SECRET_LENGTH = 32;

const infoClaimSchema = z
  .custom<Record<string, JsonValue>>(
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    'info must be a JSON object',
  )
  .superRefine((info, ctx) => {
    const problem = jsonValueProblem(info);
    if (problem) return ctx.addIssue({ code: 'custom', message: `info: ${problem}` });
    if (encodedSize(info) > MAX_INFO_BYTES) {
      ctx.addIssue({ code: 'custom', message: `info over ${MAX_INFO_BYTES} bytes` });
    }
  });

/** The claims a token must carry. */
export const tokenClaimsSchema = z.object({
  sub: z.string().min(1).max(256),
  exp: z.number(),
  iat: z.number().optional(),
  rooms: z.array(roomPatternSchema).max(256),
  info: infoClaimSchema.optional(),
});

export type TokenClaims = z.infer<typeof tokenClaimsSchema>;

/** Who is calling, once their token has been verified (or who a server call acts as). */
export interface Principal {
  user: string;
  rooms: string[];
  /** The token's `info` claim, shown to others in presence. */
  info?: Record<string, JsonValue> | undefined;
  /** When the token was issued (`iat`, seconds), if it says; revocations compare against it. */
  iat?: number | undefined;
}

/** A principal from a verified token: it holds only until `exp`. */
export interface TokenPrincipal extends Principal {
  /** Seconds since the epoch. */
  exp: number;
}

/**
 * Which tokens are accepted: HS256 with `secret`, and/or RS256/ES256 with a PEM public key or the
 * keys of an identity provider's JWKS URL (cached; refetched when a token names an unknown `kid`).
 */
export interface TokenKeys {
  secret?: string | undefined;
  /**
   * During a rotation of the HS256 key: the key being retired, still accepted (tokens signed with
   * `secret` are tried first). Unset outside a rotation.
   */
  previousSecret?: string | undefined;
  publicKeyPem?: string | undefined;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
}

/** Verifies a token; every failure is the contract's `unauthorized`. */
export type TokenVerifier = (token: unknown) => Promise<TokenPrincipal>;

const ASYMMETRIC = ['RS256', 'ES256'] as const;
type KeyFor = (header: JWTHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey | Uint8Array>;

/**
 * Builds the verifier for `keys`. The key is chosen by the token's `alg` among the configured ones
 * only, so a public key is never taken as an HMAC secret (algorithm confusion).
 */
export function createTokenVerifier(keys: TokenKeys): TokenVerifier {
  const keyFor = keyResolver(keys);
  const previousKeyFor =
    keys.secret && keys.previousSecret ? keyResolver({ secret: keys.previousSecret }) : undefined;
  const algorithms = [
    ...(keys.secret ? ['HS256'] : []),
    ...(keys.publicKeyPem || keys.jwksUrl ? ASYMMETRIC : []),
  ];
  return async function verifyToken(token) {
    if (typeof token !== 'string' || token.length === 0) {
      throw new ProtocolError('unauthorized', 'missing token');
    }
    if (algorithms.length === 0) throw new ProtocolError('unauthorized', 'no token keys are configured');
    try {
      const options = {
        algorithms,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_S,
        ...(keys.issuer ? { issuer: keys.issuer } : {}),
        ...(keys.audience ? { audience: keys.audience } : {}),
      };
      const { payload } = await jwtVerify(token, keyFor, options).catch((err: unknown) => {
        // An HS256 token signed with the key being retired: try that key before refusing.
        const retired =
          previousKeyFor &&
          err instanceof errors.JWSSignatureVerificationFailed &&
          decodeProtectedHeader(token).alg === 'HS256';
        if (!retired) throw err;
        return jwtVerify(token, previousKeyFor, options);
      });
      const claims = tokenClaimsSchema.safeParse(payload);
      if (!claims.success) throw new ProtocolError('unauthorized', 'token claims are invalid');
      const { sub, rooms, exp, iat, info } = claims.data;
      return { user: sub, rooms, exp, iat, info };
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      throw new ProtocolError(
        'unauthorized',
        err instanceof errors.JWTExpired ? 'token expired' : 'invalid token',
      );
    }
  };
}

function keyResolver(keys: TokenKeys): KeyFor {
  const secret = keys.secret ? new TextEncoder().encode(keys.secret) : undefined;
  const jwks = keys.jwksUrl
    ? createRemoteJWKSet(new URL(keys.jwksUrl), { timeoutDuration: 5_000 })
    : undefined;
  const pemKeys = new Map<string, Promise<CryptoKey>>();
  return async (header, token) => {
    if (header.alg === 'HS256') {
      if (!secret) throw new ProtocolError('unauthorized', 'HS256 tokens are not accepted');
      return secret;
    }
    if (keys.publicKeyPem && !(jwks && header.kid)) {
      const alg = header.alg!;
      let key = pemKeys.get(alg);
      if (!key) pemKeys.set(alg, (key = importSPKI(keys.publicKeyPem, alg)));
      return key;
    }
    if (jwks) return jwks(header, token);
    throw new ProtocolError('unauthorized', `${header.alg} tokens are not accepted`);
  };
}

const bySecret = new Map<string, TokenVerifier>();

/** Verifies an HS256 token signed with `secret` (a verifier with only that key). */
export function verifyAccessToken(token: unknown, secret: string): Promise<TokenPrincipal> {
  let verify = bySecret.get(secret);
  if (!verify) bySecret.set(secret, (verify = createTokenVerifier({ secret })));
  return verify(token);
}

/**
 * Compares two secrets in time that depends only on their lengths, not on where they differ.
 * Usable in workerd and Node (no `node:crypto`).
 */
/**
 * True when `given` equals one of `accepted` (a current value and, during a rotation, the previous
 * one). Every candidate is compared, in constant time, whatever matched first.
 */
export function secretIsOneOf(given: string | null | undefined, accepted: readonly string[]): boolean {
  let match = false;
  for (const secret of accepted) match = secretsEqual(given, secret) || match;
  return match;
}

export function secretsEqual(given: string | null | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i]!;
  return diff === 0;
}
