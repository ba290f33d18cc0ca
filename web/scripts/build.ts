/**
 * Builds the web UI into web/dist when its sources changed since the last build: run on
 * `npm install` (the `prepare` script), before `npm start`, and by the browser tests, so
 * a fresh clone serves the UI with no manual step and an unchanged tree costs a hash.
 * The stamp hashes every source file and the lockfile. `--force` always builds.
 * Without Vite (dev dependencies omitted) it says so and leaves the UI unbuilt.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = fileURLToPath(new URL('..', import.meta.url));
const REPO = join(WEB, '..');
const DIST = join(WEB, 'dist');
const STAMP = join(DIST, '.build-stamp');

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

/** A hash of everything the build reads: the UI's sources, config and the lockfile. */
export function sourceHash(): string {
  const hash = createHash('sha256');
  const files = [
    ...filesUnder(join(WEB, 'src')).filter((f) => !/\.test\.tsx?$/.test(f)),
    ...filesUnder(join(WEB, 'public')),
    join(WEB, 'index.html'),
    join(WEB, 'vite.config.ts'),
    join(REPO, 'package-lock.json'),
  ]
    .filter((f) => existsSync(f) && statSync(f).isFile())
    .sort();
  for (const file of files) {
    hash.update(relative(REPO, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

export function isBuildFresh(): boolean {
  return (
    existsSync(join(DIST, 'index.html')) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === sourceHash()
  );
}

/** Builds unless the last build is of the same sources; resolves to whether it built. */
export async function buildWebIfStale(options: { force?: boolean; quiet?: boolean } = {}): Promise<boolean> {
  if (!options.force && isBuildFresh()) return false;
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    process.stderr.write(
      'berth: Vite is not installed (dev dependencies omitted); the web UI is not built.\n',
    );
    return false;
  }
  const hash = sourceHash();
  await vite.build({
    configFile: join(WEB, 'vite.config.ts'),
    logLevel: options.quiet ? 'warn' : 'info',
  });
  writeFileSync(STAMP, hash);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const built = await buildWebIfStale({ force: process.argv.includes('--force') });
  if (!built) process.stdout.write('berth: the web UI in web/dist is up to date.\n');
}
