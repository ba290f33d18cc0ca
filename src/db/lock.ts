/**
 * An exclusive lock on PGlite's data directory. PGlite does not lock its directory, and
 * two processes writing one PostgreSQL data directory corrupt it, so berth takes this
 * lock first and a second berth on the same directory stops with a clear message. The
 * lock file holds the owner's pid: a lock left by a process that no longer exists (a
 * crash or SIGKILL) is taken over at once instead of waiting for a timeout.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface DirectoryLock {
  readonly path: string;
  release(): void;
}

export class DirectoryLockedError extends Error {
  /** The holder, which `berth vault rotate` asks to do the work when it is a serving berth. */
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(
      `The data directory ${dir} is in use by another berth process (pid ${pid}). ` +
        'Stop it, or give this one its own BERTH_DATA_DIR; to run several berth processes ' +
        'together, use a PostgreSQL server (DATABASE_URL).',
    );
    this.name = 'DirectoryLockedError';
  }
}

// Directories this process holds: a second open in the same process is refused too,
// while a lock file bearing this pid that is not in the set is a previous incarnation's
// (a restarted container often gets the same pid back).
const heldHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireDirectoryLock(dir: string): DirectoryLock {
  const path = join(dir, 'berth.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldHere.add(path);
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          heldHere.delete(path);
          rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (heldHere.has(path)) throw new DirectoryLockedError(dir, process.pid);
      const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new DirectoryLockedError(dir, pid);
      }
      // The owner is gone (or the file is unreadable junk): remove the stale lock and
      // try again; `wx` keeps the retake atomic if two processes race for it.
      rmSync(path, { force: true });
    }
  }
  throw new Error(`Could not lock the data directory ${dir}`);
}
