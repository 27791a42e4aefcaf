import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Chaos tests kill and restart things for minutes: `npm run test:chaos`.
    exclude: [...configDefaults.exclude, 'test/chaos/**'],
    // Temporal's native bridge needs real processes, not worker threads.
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    maxWorkers: 2,
  },
});
