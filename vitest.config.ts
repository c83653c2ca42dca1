import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{shared,regions,edge,infra,tests}/**/*.test.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    // Integration tests start real servers; two cores, so a few files at a time.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
