/**
 * PGlite does not lock its data directory; berth does, so that a second berth on the same
 * directory stops with a clear message instead of corrupting the database.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKeyring } from '../../src/config/master-keys.ts';
import { openDatabase } from '../../src/db/engine.ts';
import {
  acquireDirectoryLock,
  DirectoryLockedError,
  processStartTime,
  startTimeFromStat,
} from '../../src/db/lock.ts';

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

  it('reads the start time from a /proc stat line whose command name holds spaces and parentheses', () => {
    const stat = '1234 (a) (b c) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 12345678 300';
    expect(startTimeFromStat(stat)).toBe('987654');
    expect(startTimeFromStat('garbage')).toBeNull();
  });

  it('gives the directory to exactly one of several berths starting at the same moment', async () => {
    // Each worker process, at the same wall-clock instants, tries one directory per round
    // and holds what it gets to the round's end. Half the rounds start from a lock left by
    // a dead process, which every worker finds stale at once and tries to take over.
    const rounds = 8;
    const workers = 6;
    const roundDirs = Array.from({ length: rounds }, () => tempDir());
    const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await once(dead, 'exit');
    roundDirs.forEach((dir, i) => {
      if (i % 2 === 1) writeFileSync(join(dir, 'berth.lock'), String(dead.pid));
    });
    // Workers start (which takes a while under load), say they are ready, and are then
    // given one instant to start from: each round begins at the same wall-clock moment in
    // every worker, and a worker keeps what it got until every worker has tried.
    const script = `
      import { createInterface } from 'node:readline';
      import { acquireDirectoryLock } from ${JSON.stringify(new URL('../../src/db/lock.ts', import.meta.url).pathname)};
      const dirs = ${JSON.stringify(roundDirs)};
      const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
      const next = async () => (await lines.next()).value;
      process.stdout.write('ready\\n');
      const start = Number(await next());
      for (const [round, dir] of dirs.entries()) {
        while (Date.now() < start + round * 200) {}
        let lock = null;
        try { lock = acquireDirectoryLock(dir); } catch (e) { if (e.name !== 'DirectoryLockedError') throw e; }
        process.stdout.write(JSON.stringify({ round, got: lock !== null }) + '\\n');
        await next();
        lock?.release();
      }`;
    const children = Array.from({ length: workers }, () =>
      spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    const linesOf = children.map((child) =>
      createInterface({ input: child.stdout! })[Symbol.asyncIterator](),
    );
    const readAll = async () =>
      Promise.all(linesOf.map(async (lines) => (await lines.next()).value as string));
    const holders: number[] = [];
    try {
      expect(await readAll()).toEqual(Array.from({ length: workers }, () => 'ready'));
      const start = Date.now() + 300;
      for (const child of children) child.stdin!.write(`${start}\n`);
      for (let round = 0; round < rounds; round++) {
        const results = (await readAll()).map((line) => JSON.parse(line) as { round: number; got: boolean });
        expect(results.every((r) => r.round === round)).toBe(true);
        holders.push(results.filter((r) => r.got).length);
        for (const child of children) child.stdin!.write('release\n');
      }
      for (const child of children) child.stdin!.end();
      const codes = await Promise.all(children.map(async (child) => (await once(child, 'exit'))[0]));
      expect(codes).toEqual(Array.from({ length: workers }, () => 0));
    } finally {
      for (const child of children) child.kill('SIGKILL');
    }
    expect(holders).toEqual(Array.from({ length: rounds }, () => 1));
  }, 30_000);

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
