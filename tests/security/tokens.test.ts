import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeAllClients, connectClient, eventually, handshakeError, sleep } from '../support/clients';
import { startTestRegion, type TestRegion } from '../support/region-cluster';
import { TEST_JWT_SECRET, tokenFor } from '../support/tokens';
import { startIdentityProvider, type TestIdentityProvider } from './keys';

let region: TestRegion;
let url: string;
let idp: TestIdentityProvider;
const nowS = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  idp = await startIdentityProvider();
  region = await startTestRegion({
    region: 'eu-west',
    nodes: 1,
    env: { JWT_PUBLIC_KEY: idp.rsaPem, JWT_JWKS_URL: idp.jwksUrl },
  });
  url = region.nodes[0]!.url;
});
afterAll(async () => {
  await region?.stop();
  await idp?.stop();
});
afterEach(() => closeAllClients());

describe('a socket lives only as long as its token', () => {
  it('gets expired { exp } at exp and is disconnected within 2 s; others keep their messages', async () => {
    const exp = nowS() + 2;
    const short = await connectClient(url, await tokenFor('brief', ['*'], { expiresIn: exp }));
    const polite = await connectClient(url, await tokenFor('polite'));
    const sender = await connectClient(url, await tokenFor('sender'));
    for (const c of [short, polite])
      expect(await c.emitWithAck('join', { room: 'x' })).toMatchObject({ ok: true });
    const expired: unknown[] = [];
    short.on('expired', (e) => expired.push(e));
    const disconnected = new Promise<number>((resolve) => short.on('disconnect', () => resolve(Date.now())));

    const at = await disconnected;
    expect(expired).toEqual([{ exp }]);
    expect(at).toBeGreaterThanOrEqual(exp * 1000);
    expect(at).toBeLessThan(exp * 1000 + 2_000);

    expect(await sender.emitWithAck('publish', { room: 'x', data: 'after' })).toMatchObject({ ok: true });
    await eventually(() => polite.received.some((e) => e.data === 'after'), 'the polite client’s message');
    expect(short.received.map((e) => e.data)).not.toContain('after');
  });

  it('stays past the old exp after auth { token }, leaving the rooms the new token no longer grants', async () => {
    const exp = nowS() + 2;
    const client = await connectClient(url, await tokenFor('rita', ['a', 'b'], { expiresIn: exp }));
    const sender = await connectClient(url, await tokenFor('sender'));
    for (const room of ['a', 'b'])
      expect(await client.emitWithAck('join', { room })).toMatchObject({ ok: true });
    const fresh = await tokenFor('rita', ['a'], { expiresIn: nowS() + 3600 });
    expect(await client.emitWithAck('auth', { token: fresh })).toEqual({
      ok: true,
      exp: nowS() + 3600,
      left: ['b'],
    });

    await sleep((exp - nowS() + 2) * 1000);
    expect(client.connected).toBe(true);
    for (const room of ['a', 'b']) await sender.emitWithAck('publish', { room, data: room });
    await eventually(() => client.received.length > 0, 'the message in a');
    await sleep(200);
    expect(client.received.map((e) => e.data)).toEqual(['a']);
    expect(await client.emitWithAck('join', { room: 'b' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
  });

  it('refuses a token for another sub (forbidden) or a bad one (unauthorized), and keeps the old one', async () => {
    const client = await connectClient(url, await tokenFor('sam', ['s']));
    expect(await client.emitWithAck('join', { room: 's' })).toMatchObject({ ok: true });
    const other = await client.emitWithAck('auth', { token: await tokenFor('mallory', ['*']) });
    expect(other).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    for (const token of ['garbage', await tokenFor('sam', ['*'], { secret: 'x'.repeat(40) })]) {
      expect(await client.emitWithAck('auth', { token })).toMatchObject({
        ok: false,
        error: { code: 'unauthorized' },
      });
    }
    // Still sam, still with only `s`, still in it.
    expect(await client.emitWithAck('join', { room: 'other' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    const sender = await connectClient(url, await tokenFor('sender'));
    await sender.emitWithAck('publish', { room: 's', data: 'still' });
    await eventually(() => client.received.length === 1, 'a message in s');
  });
});

describe('token keys', () => {
  it('accepts RS256 from JWT_PUBLIC_KEY, ES256 from JWT_JWKS_URL and HS256 from JWT_SECRET', async () => {
    for (const token of [
      await idp.rs256({ sub: 'rsa' }),
      await idp.es256({ sub: 'ec' }),
      await tokenFor('hs'),
    ]) {
      const c = await connectClient(url, token);
      expect(c.connected).toBe(true);
    }
    expect(idp.jwksHits()).toBeGreaterThanOrEqual(1);
  });

  it('refuses an HS256 token signed with the public key as its secret (algorithm confusion)', async () => {
    const forged = await new SignJWT({ rooms: ['*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(idp.rsaPem));
    expect(await handshakeError(url, { token: forged })).toBe('unauthorized');
  });

  it('takes info (a JSON object of at most 1 KiB) and refuses a bigger or non-object one', async () => {
    const ok = await tokenFor('ivy', ['*'], {});
    expect((await connectClient(url, ok)).connected).toBe(true);
    const withInfo = (info: unknown) =>
      new SignJWT({ rooms: ['*'], info })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ivy')
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect((await connectClient(url, await withInfo({ name: 'Ivy', color: '#0a0' }))).connected).toBe(true);
    for (const info of [{ bio: 'x'.repeat(1100) }, ['a'], 'name', { bad: 'nul\u0000' }]) {
      expect(await handshakeError(url, { token: await withInfo(info) })).toBe('unauthorized');
    }
  });

  it('allows 5 s of clock skew on exp over HTTP, and no more', async () => {
    const ask = async (expiresIn: number) =>
      (
        await fetch(`${url}/v1/rooms/r/presence`, {
          headers: { authorization: `Bearer ${await tokenFor('clock', ['*'], { expiresIn })}` },
        })
      ).status;
    expect(await ask(nowS() - 2)).toBe(200);
    expect(await ask(nowS() - 30)).toBe(401);
  });
});

describe('issuer and audience', () => {
  let strict: TestRegion;
  beforeAll(async () => {
    strict = await startTestRegion({
      region: 'us-east',
      nodes: 1,
      env: { JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'realtime' },
    });
  });
  afterAll(() => strict?.stop());

  it('refuses tokens without the configured iss and aud', async () => {
    const sign = (claims: Record<string, string>) =>
      new SignJWT({ rooms: ['*'], ...claims })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ada')
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const node = strict.nodes[0]!.url;
    expect(await handshakeError(node, { token: await sign({}) })).toBe('unauthorized');
    expect(await handshakeError(node, { token: await sign({ iss: 'https://idp.example' }) })).toBe(
      'unauthorized',
    );
    expect(await handshakeError(node, { token: await sign({ iss: 'https://evil', aud: 'realtime' }) })).toBe(
      'unauthorized',
    );
    const good = await sign({ iss: 'https://idp.example', aud: 'realtime' });
    expect((await connectClient(node, good)).connected).toBe(true);
  });
});
