/**
 * The rate budget every DigitalOcean request draws from before it is sent, retries
 * included. DigitalOcean limits each token to 5,000 requests per hour and 250 per minute,
 * and a token is shared by deploys (a person is waiting), background jobs (reconcilers,
 * cleanup) and onboarding (a new user's key), so the budget serves waiting deploy callers
 * first and keeps part of each window free for them (rate-window.ts says how much). The interface is deliberately small so that a shared,
 * database-backed budget can replace this in-memory one when berth runs several
 * processes; the window arithmetic lives in rate-window.ts for both to use.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type RateObservation, serverDelay } from './backoff.ts';
import {
  computeWait,
  DIGITALOCEAN_LIMITS,
  expiredCount,
  PRIORITY_ORDER,
  type Priority,
  type RateLimits,
  windowsFor,
} from './rate-window.ts';

export type { Priority, RateLimits } from './rate-window.ts';

export interface RateBudget {
  /** Resolves when one request may be sent now, and counts it; rejects if `signal` aborts. */
  acquire(priority: Priority, signal?: AbortSignal): Promise<void>;
  /** Tells the budget what the server's rate-limit headers said, so it never overruns them. */
  observe?(observation: RateObservation): void;
}

/** Time as the budget and client see it; tests pass a manual clock. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  },
};

export interface InMemoryRateBudgetOptions {
  limits?: RateLimits;
  clock?: Clock;
  /** Clamp for waits taken from the server's headers (see backoff.ts for why). */
  serverDelayFloorMs?: number;
  serverDelayCeilingMs?: number;
}

interface Waiter {
  priority: Priority;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class InMemoryRateBudget implements RateBudget {
  private readonly limits: RateLimits;
  private readonly clock: Clock;
  private readonly floorMs: number;
  private readonly ceilingMs: number;
  /** Send times of granted requests, ascending; only the last hour is kept. */
  private readonly sent: number[] = [];
  private readonly waiting: Waiter[] = [];
  private timer: AbortController | undefined;
  /** What the server last said remained, less what was granted since; undefined if unknown. */
  private serverRemaining: number | undefined;
  /** No request is granted before this time, because the server asked so. */
  private heldUntil = 0;
  /** When the server's count frees up again, as of its last report (clamped). */
  private serverResetAt = 0;

  constructor(options: InMemoryRateBudgetOptions = {}) {
    this.limits = options.limits ?? DIGITALOCEAN_LIMITS;
    this.clock = options.clock ?? systemClock;
    this.floorMs = options.serverDelayFloorMs ?? 1_000;
    this.ceilingMs = options.serverDelayCeilingMs ?? 60_000;
  }

  acquire(priority: Priority, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { priority, resolve, reject, signal, onAbort: () => this.cancel(waiter) };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiting.push(waiter);
      this.pump();
    });
  }

  observe(observation: RateObservation): void {
    // With retry-after, a zero remaining means the per-minute burst limit, which frees up
    // after retry-after rather than at ratelimit-reset (the hourly window's oldest request).
    if (observation.retryAfterMs !== undefined) this.serverRemaining = undefined;
    else if (observation.remaining !== undefined) this.serverRemaining = observation.remaining;
    if (observation.resetAtMs !== undefined) {
      const untilReset = observation.resetAtMs - observation.observedAtMs;
      this.serverResetAt =
        observation.observedAtMs + Math.min(this.ceilingMs, Math.max(this.floorMs, untilReset));
    }
    let hold = serverDelay(observation, this.floorMs, this.ceilingMs);
    if (hold === undefined && observation.status === 429) hold = this.floorMs;
    if (hold !== undefined) this.heldUntil = Math.max(this.heldUntil, observation.observedAtMs + hold);
    this.pump();
  }

  /** Counts for metrics: requests granted in the last minute and hour, and callers waiting. */
  stats(): { lastMinute: number; lastHour: number; waiting: number } {
    const now = this.clock.now();
    return {
      lastMinute: this.sent.filter((t) => t > now - 60_000).length,
      lastHour: this.sent.filter((t) => t > now - 3_600_000).length,
      waiting: this.waiting.length,
    };
  }

  private cancel(waiter: Waiter): void {
    const index = this.waiting.indexOf(waiter);
    if (index === -1) return;
    this.waiting.splice(index, 1);
    waiter.reject(waiter.signal?.reason);
    this.pump();
  }

  /** Grants as many waiters as fit now, deploy first, then sleeps until the next may fit. */
  private pump(): void {
    this.timer?.abort();
    this.timer = undefined;
    while (this.waiting.length > 0) {
      const now = this.clock.now();
      const windows = windowsFor('deploy', this.limits);
      this.sent.splice(0, expiredCount(this.sent, now, windows));
      const index = this.nextWaiter();
      const next = this.waiting[index]!;
      const wait = Math.max(
        computeWait(this.sent, now, windowsFor(next.priority, this.limits)),
        this.serverWait(now),
      );
      if (wait > 0) {
        this.schedule(wait);
        return;
      }
      this.waiting.splice(index, 1);
      this.grant(now);
      next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve();
    }
  }

  /**
   * The first waiter of the most entitled priority waiting. Its windows hold every less
   * entitled one's, so when it must wait every other must too, and none is passed over.
   */
  private nextWaiter(): number {
    for (const priority of PRIORITY_ORDER) {
      const index = this.waiting.findIndex((w) => w.priority === priority);
      if (index !== -1) return index;
    }
    return 0;
  }

  private serverWait(now: number): number {
    if (this.heldUntil > now) return this.heldUntil - now;
    if (this.serverRemaining !== undefined && this.serverRemaining <= 0 && this.serverResetAt > now) {
      return this.serverResetAt - now;
    }
    return 0;
  }

  private grant(now: number): void {
    this.sent.push(now);
    if (this.serverRemaining === undefined) return;
    if (this.serverRemaining <= 0) {
      // The server's last word was "nothing left" and its reset time has passed: send one
      // probe and wait a floor interval for its headers, rather than releasing everyone.
      this.serverResetAt = now + this.floorMs;
    } else {
      this.serverRemaining -= 1;
      if (this.serverRemaining === 0 && this.serverResetAt <= now) this.serverResetAt = now + this.floorMs;
    }
  }

  private schedule(wait: number): void {
    if (!Number.isFinite(wait)) return;
    const timer = new AbortController();
    this.timer = timer;
    this.clock.sleep(wait, timer.signal).then(
      () => {
        if (this.timer === timer) this.pump();
      },
      () => undefined,
    );
  }
}
