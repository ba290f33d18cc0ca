/**
 * An exclusive lock on PGlite's data directory. PGlite does not lock its directory, and
 * two processes writing one PostgreSQL data directory corrupt it, so berth takes this
 * lock first and a second berth on the same directory stops with a clear message. The
 * lock file holds the owner's pid: a lock left by a process that no longer exists (a
 * crash or SIGKILL) is taken over at once instead of waiting for a timeout. Beside the pid
 * it holds the process's start time where the system tells it (Linux's /proc), because
 * after a crash the pid may be given to another program, which would otherwise keep the
 * directory locked for as long as that program runs.
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

/**
 * When the process started, in clock ticks since boot (field 22 of /proc/<pid>/stat), or
 * null where there is no /proc. The command name (field 2) may hold spaces and
 * parentheses, so the fields are counted from its closing parenthesis.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the lock file's owner still runs: its pid is alive and, where both are known, started when it did. */
function holderRuns(pid: number, startedAt: string | undefined): boolean {
  if (!isAlive(pid)) return false;
  const now = startedAt === undefined ? null : processStartTime(pid);
  return now === null || now === startedAt;
}

export function acquireDirectoryLock(dir: string): DirectoryLock {
  const path = join(dir, 'berth.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      const startedAt = processStartTime(process.pid);
      writeSync(fd, startedAt === null ? String(process.pid) : `${process.pid} ${startedAt}`);
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
      const [pidText = '', startedAt] = readFileSync(path, 'utf8').trim().split(' ');
      const pid = Number.parseInt(pidText, 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && holderRuns(pid, startedAt)) {
        throw new DirectoryLockedError(dir, pid);
      }
      // The owner is gone (or its pid is another program's now, or the file is
      // unreadable junk): remove the stale lock and try again; `wx` keeps the retake
      // atomic if two processes race for it.
      rmSync(path, { force: true });
    }
  }
  throw new Error(`Could not lock the data directory ${dir}`);
}
