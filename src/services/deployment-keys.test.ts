import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Authz } from '../db/authz.ts';
import { DeploymentKeyService } from './deployment-keys.ts';
import { MemoryKeyCache } from './key-cache.ts';
import type { Registration } from './key-registration.ts';

/** A logger whose lines this test can read. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), lines };
}

const unusedAuthz = {} as Authz;
const keys = [{ keyId: 'k1', digitaloceanKeyId: 42, fingerprintMd5: 'aa:bb' }];

describe('DeploymentKeyService', () => {
  it('deploys with the keys DigitalOcean holds without waiting for their record, and caches them', async () => {
    let recordDone: () => void = () => {};
    const recorded = new Promise<void>((resolve) => {
      recordDone = resolve;
    });
    const cache = new MemoryKeyCache();
    const { logger } = capturingLogger();
    const service = new DeploymentKeyService({
      authz: unusedAuthz,
      readyKeys: async (): Promise<Registration> => ({ keys, recorded }),
      cache,
      fallbackKeys: [],
      logger,
    });
    const prepared = await service.prepareForDeployment('u1');
    expect(prepared).toMatchObject({
      refs: [42],
      fingerprints: ['aa:bb'],
      path: 'cold',
      usedFallbackKeys: false,
    });
    expect(await cache.get('u1')).toEqual({ digitaloceanKeyIds: [42], fingerprints: ['aa:bb'] });
    recordDone();
  });

  it('says in the log when a registration was not recorded, and still deploys with its keys', async () => {
    const { logger, lines } = capturingLogger();
    const service = new DeploymentKeyService({
      authz: unusedAuthz,
      readyKeys: async () => ({ keys, recorded: Promise.reject(new Error('database went away')) }),
      cache: new MemoryKeyCache(),
      fallbackKeys: [],
      logger,
    });
    expect(await service.getDeploymentSSHKeys('u1', { requestId: 'r1' })).toEqual({
      digitaloceanKeyIds: [42],
      fingerprints: ['aa:bb'],
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        userId: 'u1',
        requestId: 'r1',
        msg: expect.stringContaining('was not recorded'),
        err: expect.objectContaining({ message: 'database went away' }),
      }),
    ]);
  });
});
