import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// Database tests open one PGlite per file (2-3 s, several hundred MB), so files run in
// a small pool of forked processes rather than one thread per core. The web UI's
// component tests run in a second project, in happy-dom with React's JSX transform.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'node', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
      },
      {
        extends: true,
        plugins: [react()],
        test: {
          name: 'web',
          include: ['web/src/**/*.test.{ts,tsx}'],
          environment: 'happy-dom',
          setupFiles: ['web/src/test/setup.ts'],
        },
      },
    ],
  },
});
