/**
 * The embedded database's data directory stays private to the user berth runs as, with
 * real files and modes in temporary directories. PGlite writes its initial database's
 * files, the write-ahead log among them, with mode 0666, so this is what keeps another
 * local user from reading users' emails and password hashes: berth creates the directory
 * 0700, makes an open one private while it holds no database yet (and says so), refuses
 * one that is open with a database in it or that belongs to someone else, and takes group
 * and other access off every database file. The checks that read as another user run as
 * `nobody` through setpriv, which needs root (as CI runs).
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirectoryError } from '../../src/db/data-dir.ts';
import { openDatabase } from '../../src/db/engine.ts';

const NOBODY = 65534;
const EMAIL = 'alice.private@example.com';

const roots: string[] = [];
/** A directory another user can reach, as a project directory usually is. */
function openParent(): string {
  const root = mkdtempSync(join(tmpdir(), 'berth-data-dir-'));
  roots.push(root);
  chmodSync(root, 0o755);
  return root;
}
/** A data directory made by hand before berth ran, with the usual 0755. */
function existingDir(): string {
  const dir = join(openParent(), 'data');
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  return dir;
}
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

const modeOf = (path: string) => statSync(path).mode & 0o777;

/** Every path under `dir` whose mode lets group or others in, with its mode. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const visit = (path: string) => {
    if ((statSync(path).mode & 0o077) !== 0) found.push(`${path} ${modeOf(path).toString(8)}`);
    if (statSync(path).isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return found;
}

/** Opens the database in `dir`, writes a row holding EMAIL, and closes it again. */
async function writeEmail(dir: string): Promise<void> {
  const database = await openDatabase({ kind: 'pglite', dataDir: dir });
  if (database.engine.kind !== 'pglite') throw new Error('expected PGlite');
  await database.engine.pglite.exec(
    `create table if not exists people (email text); insert into people values ('${EMAIL}')`,
  );
  await database.close();
}

function walFiles(dir: string): string[] {
  const wal = join(dir, 'pgdata', 'pg_wal');
  return readdirSync(wal)
    .filter((name) => /^[0-9A-F]{24}$/.test(name))
    .map((name) => join(wal, name));
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('this test acts as or for another user (nobody), which needs root');
  }
}

/** Runs `command` as the unprivileged user nobody. */
function asNobody(...command: string[]) {
  requireRoot();
  return spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...command], {
    encoding: 'utf8',
  });
}

describe('the embedded data directory', () => {
  it('is created 0700, and no file of the database in it is open to group or others', async () => {
    const dir = join(openParent(), 'new', 'data');
    await writeEmail(dir);
    expect(modeOf(dir)).toBe(0o700);
    expect(openToOthers(dir)).toEqual([]);
  }, 120_000);

  it('is made private when it already existed open but held no database, and berth says so', async () => {
    const dir = existingDir();
    const database = await openDatabase({ kind: 'pglite', dataDir: dir });
    try {
      expect(database.madePrivate).toEqual({ dir, previousMode: 0o755 });
      expect(modeOf(dir)).toBe(0o700);
      expect(openToOthers(dir)).toEqual([]);
    } finally {
      await database.close();
    }
    // Private now, it is opened again without a word.
    const again = await openDatabase({ kind: 'pglite', dataDir: dir });
    expect(again.madePrivate).toBeNull();
    await again.close();
  }, 120_000);

  it('keeps another local user from reading the write-ahead log of a directory that existed', async () => {
    const dir = existingDir();
    await writeEmail(dir);
    const [wal] = walFiles(dir);
    expect(wal).toBeDefined();
    // The email is there to be read: by berth's own user.
    expect(readFileSync(wal!).includes(EMAIL)).toBe(true);
    const read = asNobody('cat', wal!);
    expect(read.status).not.toBe(0);
    expect(read.stderr).toMatch(/Permission denied/);
    expect(read.stdout).not.toContain(EMAIL);
    const search = asNobody('grep', '-r', '-l', EMAIL, dir);
    expect(search.stdout).toBe('');
  }, 120_000);

  it('refuses to start when it is open to others with a database in it, naming the fix', async () => {
    const dir = existingDir();
    await writeEmail(dir);
    chmodSync(dir, 0o755);
    const refused = openDatabase({ kind: 'pglite', dataDir: dir });
    await expect(refused).rejects.toThrow(DataDirectoryError);
    await expect(refused).rejects.toThrow(
      `The data directory ${dir} is open to other users (mode 0755), who may have read the database in it; run: chmod -R go-rwx ${dir}`,
    );
    expect(modeOf(dir)).toBe(0o755);
    // The fix it names is enough.
    spawnSync('chmod', ['-R', 'go-rwx', dir]);
    const database = await openDatabase({ kind: 'pglite', dataDir: dir });
    await database.close();
  }, 120_000);

  it('refuses a directory that belongs to another user, who could open it again', async () => {
    requireRoot();
    const dir = existingDir();
    chownSync(dir, NOBODY, NOBODY);
    await expect(openDatabase({ kind: 'pglite', dataDir: dir })).rejects.toThrow(
      /belongs to another user \(uid 65534\)/,
    );
  });

  it('takes group and other access off database files an earlier berth left open', async () => {
    // An earlier berth made the directory 0700 but left PGlite's files as it wrote them.
    const dir = join(openParent(), 'data');
    await writeEmail(dir);
    const [wal] = walFiles(dir);
    chmodSync(wal!, 0o666);
    chmodSync(join(dir, 'pgdata', 'base'), 0o755);
    await writeEmail(dir);
    expect(openToOthers(dir)).toEqual([]);
  }, 120_000);
});
