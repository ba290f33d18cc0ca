import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../domain/errors.ts';
import { recordInternalAddress } from '../http/internal-address.ts';
import { rotateThroughServingBerth } from './vault-remote.ts';

/** A loopback port that nothing listens on: taken from the system, then let go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let dataDir: string | undefined;
afterEach(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

describe('rotating through a serving berth', () => {
  it('says the lock may be stale, and what to remove, when nothing listens where its holder said', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-remote-'));
    // What a SIGKILLed berth leaves behind, its pid since given to another (living) program.
    const pid = process.pid;
    recordInternalAddress(dataDir, `http://127.0.0.1:${await closedPort()}`, pid);
    const error = await rotateThroughServingBerth({
      dataDir,
      holderPid: pid,
      secret: 'a'.repeat(32),
      keyId: 'k2',
      batchSize: 10,
      onProgress: () => {},
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toContain(`If pid ${pid} is not a berth serving this directory`);
    expect((error as Error).message).toContain('remove berth.lock and internal-api.json');
  });

  it('reports any other failure to reach it as it is', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-remote-'));
    recordInternalAddress(dataDir, 'http://127.0.0.1:9', process.pid);
    const error = await rotateThroughServingBerth({
      dataDir,
      holderPid: process.pid,
      secret: 'a'.repeat(32),
      keyId: 'k2',
      batchSize: 10,
      onProgress: () => {},
      fetch: async () => {
        throw new TypeError('fetch failed', { cause: { code: 'ETIMEDOUT' } });
      },
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      `berth (pid ${process.pid}) did not answer at http://127.0.0.1:9: fetch failed`,
    );
  });
});
