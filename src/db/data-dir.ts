/**
 * Keeps the embedded database's data directory private to the user berth runs as. PGlite
 * writes the files of its initial database, the write-ahead log among them, with mode
 * 0666 whatever the umask, so the directory's own mode is what keeps other local users
 * from reading users' emails and password hashes out of it. A directory 0700 and owned by
 * berth's user cannot be entered by anyone else, which makes the modes inside moot for
 * them; berth still takes group and other bits off the database's files at every open,
 * so that a copy made with their modes (a backup, say) is private too.
 *
 * A directory that is open to others is treated as PostgreSQL's initdb and server treat
 * theirs. Before there is a database in it (an empty directory made by hand, a mounted
 * volume), nothing can have been read from it yet and it is berth's own directory, so
 * berth makes it 0700 and says so. Once a database is in it, others may already have read
 * it, so berth refuses to start and names the fix, as it does for its key files; making
 * it private quietly would hide that from the operator. A directory that belongs to
 * another user is refused too, since its owner can open it again whatever berth does.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where the database lives inside the data directory. */
export const DATABASE_SUBDIRECTORY = 'pgdata';

export class DataDirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirectoryError';
  }
}

/** Set when berth took group and other access off a directory that held no database yet. */
export interface MadePrivate {
  dir: string;
  /** The permission bits it had, such as 0o755. */
  previousMode: number;
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/** What to tell the operator when berth made the data directory private. */
export function madePrivateMessage({ dir, previousMode }: MadePrivate): string {
  return (
    `made the data directory ${dir} private (mode 0700; it was ${octal(previousMode)}, open to ` +
    'other users) before creating the database in it'
  );
}

/**
 * Creates the data directory (0700) or checks the one there, making it private when it
 * holds no database yet. Throws DataDirectoryError, naming the fix, when it is open to
 * others with a database in it, or when it belongs to another user.
 */
export function prepareDataDirectory(dir: string): MadePrivate | null {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return null;
  }
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw new DataDirectoryError(`The data directory ${dir} is not a directory.`);
  const uid = process.geteuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new DataDirectoryError(
      `The data directory ${dir} belongs to another user (uid ${stat.uid}), who could read the ` +
        `database in it whatever its mode; run berth as that user, or run: chown -R ${uid} ${dir}`,
    );
  }
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) === 0) return null;
  if (existsSync(join(dir, DATABASE_SUBDIRECTORY))) {
    throw new DataDirectoryError(
      `The data directory ${dir} is open to other users (mode ${octal(mode)}), who may have read ` +
        `the database in it; run: chmod -R go-rwx ${dir}`,
    );
  }
  chmodSync(dir, mode & 0o700);
  return { dir, previousMode: mode };
}

/**
 * Takes group and other access off everything under `root`, PGlite's files as it wrote
 * them. Symbolic links are left alone: chmod would follow them out of the directory.
 */
export function makeFilesPrivate(root: string): void {
  const visit = (path: string) => {
    let stat: Stats;
    try {
      stat = lstatSync(path);
    } catch (error) {
      // A file PostgreSQL removed since its directory was listed.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    if (stat.isSymbolicLink()) return;
    if ((stat.mode & 0o077) !== 0) chmodSync(path, stat.mode & 0o700);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  if (existsSync(root)) visit(root);
}
