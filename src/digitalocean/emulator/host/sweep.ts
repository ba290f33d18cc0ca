/**
 * Cleans up after emulators that died without closing (SIGKILL, a crash): their network
 * namespaces (named `berth-do-<pid>-...`) and state directories (named `<pid>-<id>`)
 * carry the owner's pid, and whatever belongs to a pid that is no longer alive is
 * removed. Processes still inside such a namespace are killed first; normally there are
 * none, since a droplet's init dies with its emulator.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { listNamespaces, namespaceOwner, namespacePids, removeNamespace } from './network.ts';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes what dead emulators left; returns one line per thing removed. */
export async function sweepStale(
  stateRoot: string,
  alive: (pid: number) => boolean = isAlive,
): Promise<string[]> {
  const notes: string[] = [];
  for (const namespace of await listNamespaces()) {
    const owner = namespaceOwner(namespace);
    if (owner === undefined || alive(owner)) continue;
    for (const pid of await namespacePids(namespace)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await removeNamespace(namespace);
    notes.push(`removed network namespace ${namespace} left by dead emulator ${owner}`);
  }
  let dirs: string[] = [];
  try {
    dirs = readdirSync(stateRoot);
  } catch {
    return notes;
  }
  for (const name of dirs) {
    const match = /^(\d+)-[0-9a-f]+$/.exec(name);
    if (!match || alive(Number(match[1]))) continue;
    rmSync(join(stateRoot, name), { recursive: true, force: true });
    notes.push(`removed droplet files ${join(stateRoot, name)} left by dead emulator ${match[1]}`);
  }
  return notes;
}
