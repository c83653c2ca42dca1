import { defineConfig } from 'vitest/config';

/**
 * Files that start a whole platform (every region, Postgres, the edge; the benchmark starts two).
 * On two cores two of them at once starve each other, so they run one at a time, after the rest.
 */
const PLATFORM_TESTS = [
  'tests/sim/simulation.test.ts',
  'tests/sim/browser.test.ts',
  'tests/sim/ctrl-c.test.ts',
  'tests/sim/rolling-restart.test.ts',
  'tests/bench/**/*.test.ts',
];

export default defineConfig({
  // Tests import the SDK package (shared/sdk) from its TypeScript sources ("source" in its exports),
  // not from its build, which only `npm pack` makes.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    globalSetup: ['tests/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['{shared,regions,edge,infra,harness,tests}/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...PLATFORM_TESTS],
          // Integration tests start real servers; two cores, two files at a time.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'platform',
          include: PLATFORM_TESTS,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
