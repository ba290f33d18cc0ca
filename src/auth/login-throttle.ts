/**
 * Slows repeated failed sign-ins, per email address and client IP together. The first
 * few failures cost nothing; after that each attempt must wait a delay that doubles with
 * every further failure, up to a ceiling. A refused attempt is answered at once with 429
 * and `retry-after` instead of being held open, so a guesser cannot tie up connections.
 * A success clears the record. State is per process (an LRU bounded in size), which is
 * the documented limit: several processes each apply it.
 */
import { LRUCache } from 'lru-cache';

export interface LoginThrottleOptions {
  /** Failures allowed before any delay. */
  freeAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A record older than this is forgotten. */
  windowMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  lastFailureAt: number;
}

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export class LoginThrottle {
  private readonly entries: LRUCache<string, Entry>;
  private readonly freeAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly now: () => number;

  constructor(options: LoginThrottleOptions = {}) {
    this.freeAttempts = options.freeAttempts ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 1_000;
    this.maxDelayMs = options.maxDelayMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.entries = new LRUCache({
      max: options.maxEntries ?? 50_000,
      ttl: options.windowMs ?? 15 * 60_000,
      perf: { now: () => this.now() },
    });
  }

  static key(email: string, ip: string): string {
    return `${email.trim().toLowerCase()}|${ip}`;
  }

  check(key: string): ThrottleDecision {
    const entry = this.entries.get(key);
    if (!entry || entry.failures < this.freeAttempts) return { allowed: true };
    const delay = Math.min(this.baseDelayMs * 2 ** (entry.failures - this.freeAttempts), this.maxDelayMs);
    const waitMs = entry.lastFailureAt + delay - this.now();
    return waitMs <= 0 ? { allowed: true } : { allowed: false, retryAfterSeconds: Math.ceil(waitMs / 1000) };
  }

  recordFailure(key: string): void {
    const entry = this.entries.get(key);
    this.entries.set(key, { failures: (entry?.failures ?? 0) + 1, lastFailureAt: this.now() });
  }

  recordSuccess(key: string): void {
    this.entries.delete(key);
  }
}
