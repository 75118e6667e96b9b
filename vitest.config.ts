import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/src/**/*.test.ts', 'coordinator/src/**/*.test.ts', 'client/src/**/*.test.ts', 'simulations/src/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // End-to-end suites spawn processes and worker threads; two cores are all CI has.
    maxWorkers: 2,
  },
});
