/**
 * Starts a whole berth for end-to-end tests, as `berth serve` would: `startServer` on
 * random ports, with a fresh data directory (PGlite on disk, generated master key and
 * token secret) and the in-process DigitalOcean emulator; stopping it removes the data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.ts';
import { startServer } from '../../src/main.ts';
import { createLogger } from '../../src/observability/logger.ts';

export async function startTestBerth(env: Record<string, string> = {}, options: { dataDir?: string } = {}) {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'berth-e2e-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    BERTH_DATA_DIR: dataDir,
    BERTH_LOG_LEVEL: 'silent',
    BERTH_EMULATOR_PORT: '0',
    BERTH_EMULATOR_SSH_PORT: '0',
    BERTH_EMULATOR_ACTIVE_AFTER_MS: '50',
    ...env,
  });
  const berth = await startServer(config, createLogger({ level: 'silent' }));
  return {
    berth,
    dataDir,
    async stop() {
      await berth.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
