/**
 * Rate limits for the routes that cost berth something (key generation, key import,
 * deploys, sign-up, sign-in): token buckets per user and per client address, each route
 * with buckets of its own. A bucket holds a minute's allowance and refills continuously,
 * so short bursts pass and sustained floods get 429 with `retry-after`. Buckets live in a
 * bounded in-memory LRU: limits are per process, which is documented; several processes
 * behind a balancer each allow their own share.
 */
import type { MiddlewareHandler } from 'hono';
import { LRUCache } from 'lru-cache';
import { RateLimitedError } from '../auth/errors.ts';
import type { ClientIpResolver } from './middleware.ts';
import type { AppEnv } from './types.ts';

export interface RateLimitSettings {
  /** Requests per minute per user on each costly route; 0 turns the limit off. */
  userPerMinute: number;
  /** Requests per minute per client address on each costly route; 0 turns it off. */
  ipPerMinute: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = { userPerMinute: 30, ipPerMinute: 120 };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export class TokenBuckets {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly refillPerMs: number;

  private readonly capacity: number;
  private readonly now: () => number;

  constructor(capacity: number, perMinute: number, now: () => number = Date.now, maxKeys = 100_000) {
    this.capacity = capacity;
    this.now = now;
    this.refillPerMs = perMinute / 60_000;
    this.buckets = new LRUCache({ max: maxKeys });
  }

  take(key: string): TakeResult {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.capacity, updatedAt: now };
    const tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.updatedAt) * this.refillPerMs);
    if (tokens < 1) {
      this.buckets.set(key, { tokens, updatedAt: now });
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.refillPerMs / 1000)) };
    }
    this.buckets.set(key, { tokens: tokens - 1, updatedAt: now });
    return { ok: true };
  }
}

export interface RateLimiter {
  /** Middleware limiting the named route; per user when a user is signed in. */
  limit(route: string): MiddlewareHandler<AppEnv>;
}

export function createRateLimiter(
  settings: RateLimitSettings,
  clientIp: ClientIpResolver,
  now: () => number = Date.now,
): RateLimiter {
  const perUser =
    settings.userPerMinute > 0 ? new TokenBuckets(settings.userPerMinute, settings.userPerMinute, now) : null;
  const perIp =
    settings.ipPerMinute > 0 ? new TokenBuckets(settings.ipPerMinute, settings.ipPerMinute, now) : null;
  return {
    limit: (route) => async (c, next) => {
      const user = c.get('user');
      const checks: [TokenBuckets | null, string | undefined][] = [
        [perIp, `${route}|ip|${clientIp(c)}`],
        [perUser, user ? `${route}|user|${user.id}` : undefined],
      ];
      for (const [buckets, key] of checks) {
        if (!buckets || !key) continue;
        const taken = buckets.take(key);
        if (!taken.ok) {
          throw new RateLimitedError('Too many requests of this kind; slow down.', taken.retryAfterSeconds);
        }
      }
      await next();
    },
  };
}
