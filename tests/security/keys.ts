import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';

/** An identity provider's keys: an RS256 pair (handed out as PEM) and an ES256 pair (behind a JWKS URL). */
export interface TestIdentityProvider {
  rsaPem: string;
  jwksUrl: string;
  /** A token signed with the RSA key (alg RS256, no kid). */
  rs256(claims: JWTPayload, expiresIn?: string | number): Promise<string>;
  /** A token signed with the JWKS key (alg ES256, kid `es-1`). */
  es256(claims: JWTPayload, expiresIn?: string | number): Promise<string>;
  /** Requests the JWKS URL has served. */
  jwksHits(): number;
  stop(): Promise<void>;
}

export async function startIdentityProvider(): Promise<TestIdentityProvider> {
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(ec.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' };
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const sign =
    (key: CryptoKey, header: { alg: string; kid?: string }) =>
    (claims: JWTPayload, expiresIn: string | number = '1h') =>
      new SignJWT({ rooms: ['*'], ...claims })
        .setProtectedHeader(header)
        .setIssuedAt()
        .setExpirationTime(expiresIn)
        .sign(key);
  return {
    rsaPem: await exportSPKI(rsa.publicKey),
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    rs256: sign(rsa.privateKey, { alg: 'RS256' }),
    es256: sign(ec.privateKey, { alg: 'ES256', kid: 'es-1' }),
    jwksHits: () => hits,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
