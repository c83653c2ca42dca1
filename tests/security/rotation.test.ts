import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../shared';
import { parseRegionConfig } from '../../regions/config';
import { closeAllClients, connectClient, handshakeError } from '../support/clients';
import { startTestRegion, type TestRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';

// A rotation in progress: the new values are current, the retired ones still accepted.
const NEW_JWT = 'rotation-new-jwt-secret-0123456789abcdef';
const OLD_JWT = 'rotation-old-jwt-secret-0123456789abcdef';
const OTHER_JWT = 'rotation-other-jwt-secret-0123456789abcd';
const NEW_EDGE = 'rotation-new-edge-secret-0123';
const OLD_EDGE = 'rotation-old-edge-secret-0123';

describe('rotating JWT_SECRET: the retired key is accepted beside the new one', () => {
  it('verifies tokens signed with either key, and no other', async () => {
    const verify = createTokenVerifier({ secret: NEW_JWT, previousSecret: OLD_JWT });
    await expect(verify(await tokenFor('ada', ['*'], { secret: NEW_JWT }))).resolves.toMatchObject({
      user: 'ada',
    });
    await expect(verify(await tokenFor('bob', ['*'], { secret: OLD_JWT }))).resolves.toMatchObject({
      user: 'bob',
    });
    await expect(verify(await tokenFor('eve', ['*'], { secret: OTHER_JWT }))).rejects.toMatchObject({
      code: 'unauthorized',
    });
    // Once the rotation is over, the retired key is refused.
    const after = createTokenVerifier({ secret: NEW_JWT });
    await expect(after(await tokenFor('bob', ['*'], { secret: OLD_JWT }))).rejects.toMatchObject({
      code: 'unauthorized',
    });
  });

  it('takes a retired value only beside a current one', () => {
    const env = {
      REGION: 'eu-west',
      PORT: '1',
      REDIS_URL: 'redis://127.0.0.1:1',
      GLOBAL_REDIS_URL: 'redis://127.0.0.1:2',
      DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db',
      JWT_SECRET: NEW_JWT,
    };
    expect(() => parseRegionConfig({ ...env, EDGE_SECRET_PREVIOUS: OLD_EDGE })).toThrow(
      /^EDGE_SECRET_PREVIOUS: /,
    );
    expect(() => parseRegionConfig({ ...env, JWT_SECRET: undefined, JWT_SECRET_PREVIOUS: OLD_JWT })).toThrow(
      /^JWT_SECRET/,
    );
    expect(
      parseRegionConfig({ ...env, EDGE_SECRET: NEW_EDGE, EDGE_SECRET_PREVIOUS: OLD_EDGE }).edgeSecrets,
    ).toEqual([NEW_EDGE, OLD_EDGE]);
  });
});

describe('a node in the middle of a rotation of JWT_SECRET and EDGE_SECRET', () => {
  let region: TestRegion;
  beforeAll(async () => {
    region = await startTestRegion({
      region: 'eu-west',
      nodes: 1,
      env: {
        JWT_SECRET: NEW_JWT,
        JWT_SECRET_PREVIOUS: OLD_JWT,
        EDGE_SECRET: NEW_EDGE,
        EDGE_SECRET_PREVIOUS: OLD_EDGE,
      },
    });
  });
  afterAll(() => region?.stop());
  afterEach(() => closeAllClients());

  it('admits handshakes with either token key through an edge sending either edge secret', async () => {
    const url = region.nodes[0]!.url;
    for (const [secret, edge] of [
      [NEW_JWT, NEW_EDGE],
      [OLD_JWT, OLD_EDGE],
      [OLD_JWT, NEW_EDGE],
    ] as const) {
      const client = await connectClient(url, await tokenFor('ada', ['*'], { secret }), {
        extraHeaders: { 'x-edge-secret': edge },
      });
      expect(client.connected).toBe(true);
    }
    expect(
      await handshakeError(
        url,
        { token: await tokenFor('eve', ['*'], { secret: OTHER_JWT }) },
        { 'x-edge-secret': NEW_EDGE },
      ),
    ).toBe('unauthorized');
  });

  it('refuses any other edge secret, over HTTP and at the handshake', async () => {
    const url = region.nodes[0]!.url;
    const token = await tokenFor('ada', ['*'], { secret: NEW_JWT });
    const presence = (edge: string) =>
      fetch(`${url}/v1/rooms/rot/presence`, {
        headers: { authorization: `Bearer ${token}`, 'x-edge-secret': edge },
      });
    expect((await presence(OLD_EDGE)).status).toBe(200);
    expect((await presence('rotation-some-other-secret')).status).toBe(401);
    await expect(
      connectClient(url, token, { extraHeaders: { 'x-edge-secret': 'rotation-some-other-secret' } }),
    ).rejects.toThrow();
  });
});
