/**
 * The key generator pool: RSA runs on worker threads that load berth's TypeScript through
 * tsx (here under Vitest, as in the app), the event loop keeps running meanwhile, and
 * close() leaves no thread behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError, UnavailableError } from '../domain/errors.ts';
import { parsePublicKey } from '../domain/sshkeys/index.ts';
import { KeygenPool } from './keygen-pool.ts';

let pool: KeygenPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

describe('KeygenPool', () => {
  it('keeps the event loop ticking while an RSA-4096 key is generated', async () => {
    pool = new KeygenPool({ size: 1 });
    let ticks = 0;
    let longestGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
      ticks++;
    }, 5);
    const started = performance.now();
    try {
      const pair = await pool.generate({ algorithm: 'rsa', rsaBits: 4096, comment: 'big@berth' });
      const elapsed = performance.now() - started;
      // The timer fired all along: at least a quarter of the 5 ms slots (generating
      // inline would leave it none; a machine busy with other test files can cost it
      // half), with no long stall.
      expect(ticks).toBeGreaterThanOrEqual(Math.floor(elapsed / 20));
      expect(longestGap).toBeLessThan(250);
      expect(pool.workerCount).toBe(1);
      expect(pair.bits).toBe(4096);
      const parsed = parsePublicKey(pair.publicKey);
      expect(parsed.bits).toBe(4096);
      expect(parsed.fingerprintSha256).toBe(pair.fingerprintSha256);
    } finally {
      clearInterval(timer);
    }
  });

  it('makes ed25519 keys inline without starting a worker', async () => {
    pool = new KeygenPool({ size: 1 });
    const pair = await pool.generate({ comment: 'small@berth' });
    expect(pair.algorithm).toBe('ed25519');
    expect(parsePublicKey(pair.publicKey).fingerprintSha256).toBe(pair.fingerprintSha256);
    expect(pool.workerCount).toBe(0);
  });

  it('spreads concurrent work over at most `size` workers', async () => {
    pool = new KeygenPool({ size: 2 });
    const pairs = await Promise.all(
      Array.from({ length: 5 }, (_, i) => pool!.generate({ algorithm: 'ecdsa-p256', comment: `k${i}` })),
    );
    expect(new Set(pairs.map((pair) => pair.fingerprintSha256)).size).toBe(5);
    expect(pairs.map((pair) => pair.publicKey.split(' ')[2])).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    expect(pool.workerCount).toBe(2);
  });

  it('passes invalid options back as InvalidInputError', async () => {
    pool = new KeygenPool({ size: 1 });
    await expect(pool.generate({ algorithm: 'ecdsa-p256', comment: 'bad\ncomment' })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(pool.generate({ comment: 'bad\ncomment' })).rejects.toBeInstanceOf(InvalidInputError);
    // The worker survives a refused request and serves the next one.
    const pair = await pool.generate({ algorithm: 'ecdsa-p256', comment: 'fine' });
    expect(pair.algorithm).toBe('ecdsa-p256');
  });

  it('terminates its workers on close and refuses work afterwards', async () => {
    pool = new KeygenPool({ size: 1 });
    await pool.generate({ algorithm: 'ecdsa-p256', comment: 'warm' });
    const inFlight = pool.generate({ algorithm: 'rsa', rsaBits: 4096, comment: 'cut short' });
    const refused = expect(inFlight).rejects.toBeInstanceOf(UnavailableError);
    await pool.close();
    await refused;
    expect(pool.workerCount).toBe(0);
    await expect(pool.generate({ comment: 'late' })).rejects.toBeInstanceOf(UnavailableError);
  });

  it('refuses a pool size below one', () => {
    expect(() => new KeygenPool({ size: 0 })).toThrow(InvalidInputError);
  });
});
