import { defineConfig } from 'vitest/config';

// Database tests open one PGlite per file (2-3 s, several hundred MB), so files run in
// a small pool of forked processes rather than one thread per core.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
