import { SignJWT } from 'jose';

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef-0123456789';

/** A signed access token as a client would hold it. */
export async function tokenFor(
  user: string,
  rooms: string[] = ['*'],
  options: { secret?: string; expiresIn?: string | number; alg?: 'HS256' | 'HS512' } = {},
): Promise<string> {
  return new SignJWT({ rooms })
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}
