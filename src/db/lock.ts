/**
 * An exclusive lock on PGlite's data directory. PGlite does not lock its directory, and
 * two processes writing one PostgreSQL data directory corrupt it, so berth takes this
 * lock first and a second berth on the same directory stops with a clear message.
 *
 * The lock file names its owner: its pid and, where the system tells it (Linux's /proc),
 * the process's start time. A lock left by a process that no longer exists (a crash or
 * SIGKILL) is taken over at once instead of waiting for a timeout, and so is one whose
 * pid has since been given to another program, which the start time tells apart.
 *
 * Races between berths starting together are closed by two atomic steps. The lock file
 * appears with its content already in it (written aside, then hard-linked into place,
 * which fails if the name exists), so no one ever reads a half-written lock and takes it
 * for junk. And a stale lock is removed only under a second, short-lived lock
 * (`berth.lock.takeover`), after reading it again there: otherwise two berths could both
 * find it stale, one replace it, and the other delete that fresh lock. The lock is for
 * one host and one pid namespace: containers sharing a data directory are not supported.
 */
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DirectoryLock {
  readonly path: string;
  release(): void;
}

export class DirectoryLockedError extends Error {
  readonly dir: string;
  readonly pid: number;

  /** The holder, which `berth vault rotate` asks to do the work when it is a serving berth. */
  constructor(dir: string, pid: number) {
    super(
      `The data directory ${dir} is in use by another berth process (pid ${pid}). ` +
        'Stop it, or give this one its own BERTH_DATA_DIR; to run several berth processes ' +
        'together, use a PostgreSQL server (DATABASE_URL).',
    );
    this.dir = dir;
    this.pid = pid;
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
 * The start time in a /proc/<pid>/stat line: field 22, in clock ticks since boot. The
 * command name (field 2) may hold spaces and parentheses, so the fields are counted from
 * its closing parenthesis, the line's last.
 */
export function startTimeFromStat(stat: string): string | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const time = stat.slice(close + 2).split(' ')[19];
  return time && /^\d+$/.test(time) ? time : null;
}

/** When the process started, or null where there is no /proc (or it may not be read). */
export function processStartTime(pid: number): string | null {
  try {
    return startTimeFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** What a lock file says of its owner: `<pid>` or `<pid> <start time>`. */
function ownerRecord(): string {
  const startedAt = processStartTime(process.pid);
  return startedAt === null ? String(process.pid) : `${process.pid} ${startedAt}`;
}

interface Owner {
  pid: number;
  startedAt: string | undefined;
}

function readOwner(path: string): { text: string; owner: Owner | null } | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const [pidText = '', startedAt] = text.trim().split(' ');
  const pid = Number.parseInt(pidText, 10);
  return { text, owner: Number.isInteger(pid) && pid > 0 ? { pid, startedAt } : null };
}

/** Whether the owner still runs: its pid is alive and, where both are known, started when it did. */
function runs(owner: Owner): boolean {
  if (owner.pid === process.pid || !isAlive(owner.pid)) return false;
  const now = owner.startedAt === undefined ? null : processStartTime(owner.pid);
  return now === null || now === owner.startedAt;
}

/** Creates `path` holding `content`, atomically; false when the name exists already. */
function createWith(path: string, content: string): boolean {
  const aside = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(aside, content, { mode: 0o600 });
  try {
    linkSync(aside, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A file system without hard links (some mounted volumes): create and write, which
    // leaves the moment between the two open, as berth's lock did before.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP')
      return createThenWrite(path, content);
    throw error;
  } finally {
    rmSync(aside, { force: true });
  }
}

function createThenWrite(path: string, content: string): boolean {
  try {
    writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Removes the lock file if it still says exactly `stale`, under the takeover lock. False
 * when another berth is taking over at this moment (the caller tries again).
 */
function removeIfStill(path: string, stale: string, record: string): boolean {
  const takeover = `${path}.takeover`;
  if (!createWith(takeover, record)) {
    // A takeover lock left by a berth that died in the middle of one is removed.
    const other = readOwner(takeover);
    if (other && (!other.owner || !runs(other.owner))) rmSync(takeover, { force: true });
    return false;
  }
  try {
    if (readOwner(path)?.text === stale) rmSync(path, { force: true });
    return true;
  } finally {
    rmSync(takeover, { force: true });
  }
}

/** Waits a few milliseconds; the lock is taken while opening, before anything is asynchronous. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function acquireDirectoryLock(dir: string): DirectoryLock {
  const path = join(dir, 'berth.lock');
  if (heldHere.has(path)) throw new DirectoryLockedError(dir, process.pid);
  const record = ownerRecord();
  for (let attempt = 0; attempt < 50; attempt++) {
    if (createWith(path, record)) {
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
    }
    const found = readOwner(path);
    if (!found) continue; // Released between our attempt and the read: try again.
    if (found.owner && runs(found.owner)) throw new DirectoryLockedError(dir, found.owner.pid);
    // The owner is gone (or its pid is another program's now, or the file is junk).
    if (!removeIfStill(path, found.text, record)) pause(5);
  }
  throw new Error(`Could not lock the data directory ${dir}: other processes kept taking it over`);
}
