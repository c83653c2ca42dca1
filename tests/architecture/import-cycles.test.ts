import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ImportGraph } from '../support/import-graph';

/** The TypeScript sources under `dir` (tests included: a test is imported by no module). */
function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.includes('node_modules') && !file.includes('dist/'))
    .map((file) => join(dir, file));
}

/** Every folder of the project's own code. */
const FOLDERS = ['regions', 'shared', 'edge', 'harness', 'infra', 'bench', 'tests'];

it('has no import cycle anywhere in the project: every module stands above what it imports', () => {
  const graph = new ImportGraph(process.cwd());
  const cycles = FOLDERS.flatMap(sources)
    .map((file) => graph.chain(file, file))
    .filter((chain) => chain !== undefined)
    .map((chain) => chain.join(' -> '));
  expect(cycles).toEqual([]);
});
