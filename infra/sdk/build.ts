/**
 * Builds the `@edge-realtime/client` package (shared/sdk/) into shared/sdk/dist: the code bundled to
 * ESM by esbuild twice, for browsers (`dist/browser.js`) and for Node (`dist/node.js`), with
 * socket.io-client left as the package's dependency (it picks its own browser or Node build), and
 * the type declarations from tsc. Run by `npm run build -w @edge-realtime/client` and before
 * `npm pack` (prepack).
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const SDK = join(import.meta.dirname, '..', '..', 'shared', 'sdk');
const ROOT = join(SDK, '..', '..');
const run = promisify(execFile);

await rm(join(SDK, 'dist'), { recursive: true, force: true });
await Promise.all(
  (['browser', 'node'] as const).map((platform) =>
    build({
      entryPoints: [join(SDK, 'index.ts')],
      outfile: join(SDK, 'dist', `${platform}.js`),
      bundle: true,
      format: 'esm',
      platform,
      target: platform === 'node' ? ['node20'] : ['es2022'],
      external: ['socket.io-client'],
      sourcemap: true,
      legalComments: 'none',
      logLevel: 'warning',
    }),
  ),
);
await run(
  process.execPath,
  [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(SDK, 'tsconfig.build.json')],
  {
    cwd: SDK,
  },
);
