/**
 * An embedded berth started after one that was killed (SIGKILL, a power cut) on the same
 * data directory: what the dead one left behind must not mislead the operator's tools.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInternalAddress } from '../../src/http/internal-address.ts';
import { startTestBerth } from '../support/berth-process.ts';

describe('an embedded berth after a killed one', () => {
  it('forgets the internal address its predecessor recorded, even one bearing its own pid', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-restart-'));
    // In a container a restarted berth often gets its predecessor's pid back.
    writeFileSync(
      join(dataDir, 'internal-api.json'),
      JSON.stringify({ pid: process.pid, url: 'http://127.0.0.1:9' }),
    );
    writeFileSync(join(dataDir, 'berth.lock'), '999999999');
    expect(readInternalAddress(dataDir)).toEqual({ pid: process.pid, url: 'http://127.0.0.1:9' });
    const started = await startTestBerth({}, { dataDir });
    try {
      // Served without the internal API: nothing is recorded, and `berth vault rotate`
      // says this berth serves none instead of knocking on the dead one's port.
      expect(readInternalAddress(dataDir)).toBeNull();
    } finally {
      await started.stop();
    }
  }, 60_000);
});
