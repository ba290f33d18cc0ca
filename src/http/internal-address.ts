/**
 * Where a serving embedded berth's internal API listens, written into its data directory
 * beside the lock. A `berth` command that finds the directory locked cannot open the
 * database, but it can ask the berth that holds it: this file names that berth's pid and
 * internal URL (never the secret), so the command reaches exactly the lock's holder even
 * when INTERNAL_PORT is 0 or differs in the operator's shell.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface InternalAddress {
  pid: number;
  url: string;
}

const FILE = 'internal-api.json';

/** Records this process's internal URL; the returned function removes the record again. */
export function recordInternalAddress(dataDir: string, url: string, pid = process.pid): () => Promise<void> {
  const path = join(dataDir, FILE);
  // Written whole and renamed into place, so a reader never sees half a file.
  writeFileSync(`${path}.${pid}`, JSON.stringify({ pid, url } satisfies InternalAddress), { mode: 0o600 });
  renameSync(`${path}.${pid}`, path);
  return async () => {
    if (readInternalAddress(dataDir)?.pid === pid) rmSync(path, { force: true });
  };
}

/** Removes whatever address is recorded: for the directory's new holder, whose it cannot be. */
export function forgetInternalAddress(dataDir: string): void {
  rmSync(join(dataDir, FILE), { force: true });
}

/** The recorded address, or null when there is none (or it is unreadable). */
export function readInternalAddress(dataDir: string): InternalAddress | null {
  try {
    const { pid, url } = JSON.parse(readFileSync(join(dataDir, FILE), 'utf8')) as Partial<InternalAddress>;
    return typeof pid === 'number' && typeof url === 'string' ? { pid, url } : null;
  } catch {
    return null;
  }
}
