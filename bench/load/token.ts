import { SignJWT } from 'jose';

/** An access token for `user` to every room, as the world's nodes accept it (HS256 on its secret). */
export function signBenchToken(secret: Uint8Array, user: string, expiresIn = '6h'): Promise<string> {
  return new SignJWT({ rooms: ['*'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime(expiresIn)
    .sign(secret);
}
