/**
 * Vite's configuration for berth's web UI: React, built into web/dist, which `berth
 * serve` serves at `/`. In development (`npm run dev:web`) Vite serves the UI itself and
 * forwards the API and the sign-in to a berth running on BERTH_URL (default :8080).
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const berth = process.env.BERTH_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // berth's CSP allows scripts and styles from its own origin only: no inline assets.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: { '/api': berth, '/auth': berth, '/healthz': berth },
  },
});
