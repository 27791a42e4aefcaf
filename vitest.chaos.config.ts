import { defineConfig } from 'vitest/config';

/** `npm run test:chaos`: the resilience tests, one file at a time (they kill and restart processes). */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 180_000,
    maxWorkers: 1,
    fileParallelism: false,
  },
});
