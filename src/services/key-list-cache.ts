/**
 * The last list of each user's SSH keys, kept in memory so that the list the UI and the
 * API read on every page costs no database round trip. The list changes only when the
 * user's keys change, and every change reaches the cache:
 *
 * - the process that made it drops the entry right after its transaction commits, so a
 *   user reads their own change back at once (read-your-writes);
 * - every process drops it when PostgreSQL delivers the change's notification on the
 *   key-change bus (a trigger on `user_ssh_keys` sends one for every insert, update and
 *   delete, whoever makes it), which happens within a millisecond or so of the commit;
 * - while the bus's connection is down no notification can arrive, so the cache empties
 *   and stores nothing until it is back (`suspend`/`resume`).
 *
 * A load that overlaps a change must not store what it read before the change: every
 * drop advances a counter, and a load stores its result only if the counter has not
 * moved since the load began. Entries also expire after a while, a backstop that bounds
 * the life of any entry whatever else goes wrong.
 */
import { LRUCache } from 'lru-cache';
import type { UserSshKey } from '../store/ssh-keys.ts';

export interface KeyListCacheOptions {
  /** Most users kept. Default 50,000. */
  max?: number;
  /** Longest life of an entry. Default 5 minutes. */
  ttlMs?: number;
}

export interface KeyListCacheObserver {
  hit(): void;
  miss(): void;
}

export class KeyListCache {
  private readonly lru: LRUCache<string, readonly UserSshKey[]>;
  private changes = 0;
  private suspended = false;

  private readonly observer: KeyListCacheObserver;

  constructor(options: KeyListCacheOptions = {}, observer: KeyListCacheObserver = { hit() {}, miss() {} }) {
    this.observer = observer;
    // ttlResolution 0: the clock is read on each lookup. With the default, lru-cache
    // re-arms a timer every millisecond under load to expire its cached reading, which
    // cost more than reading the clock.
    this.lru = new LRUCache({
      max: options.max ?? 50_000,
      ttl: options.ttlMs ?? 5 * 60_000,
      ttlResolution: 0,
    });
  }

  /**
   * The user's list: the cached one, else `load(userId)`'s, stored if nothing changed
   * meanwhile. Lists come back frozen, and a hit returns the very list stored, so a
   * caller may remember what it derived from one (the API its JSON) by identity.
   */
  async get(
    userId: string,
    load: (userId: string) => Promise<readonly UserSshKey[]>,
  ): Promise<readonly UserSshKey[]> {
    const cached = this.lru.get(userId);
    if (cached) {
      this.observer.hit();
      return cached;
    }
    this.observer.miss();
    const before = this.changes;
    const keys = Object.freeze(await load(userId));
    if (!this.suspended && this.changes === before) this.lru.set(userId, keys);
    return keys;
  }

  /** The user's keys changed (here or on another process). */
  invalidate(userId: string): void {
    this.changes++;
    this.lru.delete(userId);
  }

  /** Changes can no longer be heard of: forget everything and keep nothing new. */
  suspend(): void {
    this.suspended = true;
    this.changes++;
    this.lru.clear();
  }

  /** The key-change bus's `onListening`: off while it cannot hear, on once it can. */
  listening(heard: boolean): void {
    if (heard) this.resume();
    else this.suspend();
  }

  /**
   * Changes are heard of again. A load that began before this may have read the
   * database before a change whose notice was lost, so it must not store: the counter
   * moves.
   */
  resume(): void {
    this.changes++;
    this.suspended = false;
  }
}
