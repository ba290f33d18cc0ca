/**
 * PGlite does not lock its data directory; berth does, so that a second berth on the same
 * directory stops with a clear message instead of corrupting the database.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKeyring } from '../../src/config/master-keys.ts';
import { openDatabase } from '../../src/db/engine.ts';
import { acquireDirectoryLock, DirectoryLockedError, processStartTime } from '../../src/db/lock.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-lock-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the embedded data directory', () => {
  it('refuses a second open while the first holds it, and frees it on close', async () => {
    const dir = tempDir();
    const first = await openDatabase({ kind: 'pglite', dataDir: dir });
    await expect(openDatabase({ kind: 'pglite', dataDir: dir })).rejects.toThrow(DirectoryLockedError);
    await first.close();
    const again = await openDatabase({ kind: 'pglite', dataDir: dir });
    await again.close();
  }, 120_000);

  it('names the process that holds it', async () => {
    const dir = tempDir();
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, 'berth.lock'), String(holder.pid));
      expect(() => acquireDirectoryLock(dir)).toThrow(`in use by another berth process (pid ${holder.pid})`);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes over a lock left by a process that died', async () => {
    const dir = tempDir();
    const path = join(dir, 'berth.lock');
    const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    expect(dead.pid).toBeGreaterThan(0);
    await once(dead, 'exit');
    writeFileSync(path, String(dead.pid));
    const lock = acquireDirectoryLock(dir);
    try {
      // The stale file is replaced by one naming this process, so the next berth on the
      // directory is refused for as long as this one lives.
      expect(lock.path).toBe(path);
      expect(readFileSync(path, 'utf8')).toBe(`${process.pid} ${processStartTime(process.pid)}`);
      expect(() => acquireDirectoryLock(dir)).toThrow(DirectoryLockedError);
    } finally {
      lock.release();
    }
    expect(existsSync(path)).toBe(false);
  });

  it('takes over a lock whose pid another program has since been given', () => {
    const dir = tempDir();
    const path = join(dir, 'berth.lock');
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const started = processStartTime(other.pid!);
      // Linux's /proc gives the start time; CI runs on Linux, so this is never skipped there.
      expect(started).toMatch(/^\d+$/);
      // The same pid, started at the time its owner recorded: the owner itself, refused.
      writeFileSync(path, `${other.pid} ${started}`);
      expect(() => acquireDirectoryLock(dir)).toThrow(`(pid ${other.pid})`);
      // The same pid, started later than the berth that wrote the lock: another program.
      writeFileSync(path, `${other.pid} ${Number(started) - 1}`);
      const lock = acquireDirectoryLock(dir);
      lock.release();
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('creates a private master key file on first start and reuses it after', () => {
    const dir = tempDir();
    const first = loadKeyring({ masterKeys: undefined, dataDir: dir, embedded: true });
    expect(first.createdFile).toBe(join(dir, 'master.keys'));
    expect(statSync(first.createdFile!).mode & 0o777).toBe(0o600);
    const second = loadKeyring({ masterKeys: undefined, dataDir: dir, embedded: true });
    expect(second.createdFile).toBeNull();
    expect(second.keyring.current.key.equals(first.keyring.current.key)).toBe(true);
  });

  it('requires BERTH_MASTER_KEYS with a PostgreSQL server', () => {
    expect(() => loadKeyring({ masterKeys: undefined, dataDir: tempDir(), embedded: false })).toThrow(
      /BERTH_MASTER_KEYS is required/,
    );
  });
});
