/**
 * `@edge-realtime/client` as an application gets it: `npm pack` in shared/sdk, the tarball installed
 * into a fresh project outside the repository (from the tarball and the npm cache), used from Node
 * against a real region node, and bundled for a browser page by esbuild.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRegion, type TestRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';

const run = promisify(execFile);
const SDK = join(import.meta.dirname, '..', '..', 'shared', 'sdk');
const NPM_ENV = {
  ...process.env,
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};

let region: TestRegion;
let app: string;

beforeAll(async () => {
  region = await startTestRegion({ region: 'eu-west', nodes: 1 });
  app = await mkdtemp(join(tmpdir(), 'rt-sdk-app-'));
  const { stdout } = await run('npm', ['pack', '--pack-destination', app, '--json'], {
    cwd: SDK,
    env: NPM_ENV,
  });
  const [{ filename }] = JSON.parse(stdout.slice(stdout.indexOf('['))) as [{ filename: string }];
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'sdk-app',
      private: true,
      type: 'module',
      dependencies: { '@edge-realtime/client': `file:./${filename}` },
    }),
  );
  await run('npm', ['install', '--prefer-offline', '--no-package-lock'], { cwd: app, env: NPM_ENV });
}, 180_000);
afterAll(async () => {
  await region?.stop();
  if (app) await rm(app, { recursive: true, force: true });
});

describe('the packed SDK in a fresh project', () => {
  it('ships ESM builds for browsers and Node with type declarations, and socket.io-client as its dependency', async () => {
    const pkg = JSON.parse(
      await readFile(join(app, 'node_modules', '@edge-realtime', 'client', 'package.json'), 'utf8'),
    ) as { dependencies: Record<string, string>; exports: Record<string, Record<string, string>> };
    expect(pkg.dependencies).toEqual({ 'socket.io-client': '4.8.4' });
    const installed = join(app, 'node_modules', '@edge-realtime', 'client');
    for (const file of ['dist/browser.js', 'dist/node.js', 'dist/types/sdk/index.d.ts']) {
      await expect(readFile(join(installed, file), 'utf8')).resolves.toBeTruthy();
    }
    const types = await readFile(join(installed, 'dist', 'types', 'sdk', 'client.d.ts'), 'utf8');
    expect(types).toContain('declare class RealtimeClient');
    expect(types).not.toContain('zod');
  });

  it('connects from Node, publishes ephemeral and stored messages, and reads presence', async () => {
    const script = `
      import { RealtimeClient } from '@edge-realtime/client';
      const [url, aliceToken, bobToken] = process.argv.slice(2);
      const alice = new RealtimeClient({ url, token: aliceToken });
      const bob = new RealtimeClient({ url, token: () => Promise.resolve(bobToken) });
      const got = [];
      bob.on('message', (m) => got.push({ data: m.data, ephemeral: m.ephemeral === true }));
      await bob.join('pkg:room');
      const joined = await alice.join('pkg:room');
      await alice.publish('pkg:room', { typing: true }, { ephemeral: true });
      await alice.publish('pkg:room', { text: 'hello' });
      while (got.length < 2) await new Promise((r) => setTimeout(r, 20));
      const presence = await bob.presence('pkg:room');
      console.log(JSON.stringify({ got, recovered: joined.recovered, presence }));
      alice.close();
      bob.close();
    `;
    await writeFile(join(app, 'run.mjs'), script);
    const url = region.nodes[0]!.url;
    const { stdout } = await run(
      process.execPath,
      ['run.mjs', url, await tokenFor('alice'), await tokenFor('bob')],
      { cwd: app, timeout: 30_000 },
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result.got).toEqual([
      { data: { typing: true }, ephemeral: true },
      { data: { text: 'hello' }, ephemeral: false },
    ]);
    expect(result.recovered).toBe(true);
    expect(result.presence.count).toBe(2);
    expect(result.presence.members.map((m: { user: string }) => m.user).sort()).toEqual(['alice', 'bob']);
  });

  it('bundles for a browser page with esbuild, taking the browser build', async () => {
    await writeFile(
      join(app, 'page.js'),
      `import { RealtimeClient } from '@edge-realtime/client';\nwindow.client = new RealtimeClient({ url: location.origin, token: 't' });\n`,
    );
    const result = await build({
      entryPoints: [join(app, 'page.js')],
      absWorkingDir: app,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.includes('@edge-realtime/client/dist/browser.js'))).toBe(true);
    expect(inputs.some((i) => i.includes('socket.io-client'))).toBe(true);
    expect(result.outputFiles[0]!.text).not.toMatch(/node:crypto|require\("crypto"\)/);
  });
});
