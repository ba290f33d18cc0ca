/**
 * Slows repeated failed sign-ins, per email address and client IP together. The first
 * few failures cost nothing; after that each attempt must wait a delay that doubles with
 * every further failure, up to a ceiling. A refused attempt is answered at once with 429
 * and `retry-after` instead of being held open, so a guesser cannot tie up connections.
 * A success clears the record. State is per process (an LRU bounded in size), which is
 * the documented limit: several processes each apply it.
 *
 * An attempt is counted when it starts, not when its verdict is known: `attempt` reserves
 * a slot synchronously, before the caller awaits the account lookup and the password
 * hash, and the caller settles it with the verdict. Attempts still in flight count as
 * failures-to-be, so concurrent guesses get no more evaluations than guesses one at a
 * time would: the free allowance at most, then one at a time, each after its delay.
 */
import { LRUCache } from 'lru-cache';
import { normaliseEmail } from '../domain/email.ts';

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

/** A reserved attempt; the first of its calls settles it, later ones do nothing. */
export interface ThrottledAttempt {
  /** The credentials were wrong: the attempt counts as a failure. */
  failed(): void;
  /** The credentials were right: the key's failures are forgotten. */
  succeeded(): void;
  /** No verdict was reached (the lookup failed): the slot is freed and nothing counted. */
  abandon(): void;
}

export type ThrottleDecision =
  | { allowed: true; attempt: ThrottledAttempt }
  | { allowed: false; retryAfterSeconds: number };

export class LoginThrottle {
  private readonly entries: LRUCache<string, Entry>;
  /**
   * Attempts started and not yet settled, per key. Kept apart from the LRU so that no
   * eviction or expiry can drop a reservation; each one is a request in progress, so the
   * map is as small as the number of sign-ins being evaluated right now.
   */
  private readonly inFlight = new Map<string, number>();
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
    return `${normaliseEmail(email)}|${ip}`;
  }

  /**
   * Reserves an attempt for the key, or refuses it. Synchronous, so nothing can run
   * between the decision and the reservation: of any number of concurrent attempts, only
   * as many pass as the record allows.
   */
  attempt(key: string): ThrottleDecision {
    const pending = this.inFlight.get(key) ?? 0;
    const entry = this.entries.get(key);
    const failures = entry?.failures ?? 0;
    // Beyond the free allowance an attempt is let through only when none is in flight,
    // and only once the delay since the last failure is over.
    if (failures + pending >= this.freeAttempts) {
      if (pending > 0) return refused(this.delayAfter(failures + pending));
      if (entry) {
        const waitMs = entry.lastFailureAt + this.delayAfter(failures) - this.now();
        if (waitMs > 0) return refused(waitMs);
      }
    }
    this.inFlight.set(key, pending + 1);
    let settled = false;
    const settle = (outcome: 'failed' | 'succeeded' | 'abandoned') => {
      if (settled) return;
      settled = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left > 0) this.inFlight.set(key, left);
      else this.inFlight.delete(key);
      if (outcome === 'failed') {
        const current = this.entries.get(key);
        this.entries.set(key, { failures: (current?.failures ?? 0) + 1, lastFailureAt: this.now() });
      } else if (outcome === 'succeeded') {
        this.entries.delete(key);
      }
    };
    return {
      allowed: true,
      attempt: {
        failed: () => settle('failed'),
        succeeded: () => settle('succeeded'),
        abandon: () => settle('abandoned'),
      },
    };
  }

  /** The wait before the attempt that follows `failures` failures (past the free ones). */
  private delayAfter(failures: number): number {
    return Math.min(this.baseDelayMs * 2 ** (failures - this.freeAttempts), this.maxDelayMs);
  }
}

function refused(waitMs: number): ThrottleDecision {
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}
