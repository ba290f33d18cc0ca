/**
 * DigitalOcean's rate limits, per token: 5,000 requests per sliding hour (each request
 * counts for one hour from when it was made), a burst limit of 250 per minute, and the
 * separate limit of 10 `GET /v2/account/keys` list calls per 60 seconds. Every answer
 * carries `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset` (the Unix time
 * the oldest counted request expires); `retry-after` is sent only when a per-minute
 * limit was hit, as DigitalOcean does. Refused requests are not counted.
 */

export interface RateLimits {
  perHour: number;
  perMinute: number;
  listKeysPerMinute: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = { perHour: 5000, perMinute: 250, listKeysPerMinute: 10 };

export interface RateDecision {
  allowed: boolean;
  headers: Record<string, string>;
}

const HOUR = 3_600_000;
const MINUTE = 60_000;

export class RateLimiter {
  private readonly hourly = new Map<string, number[]>();
  private readonly listCalls = new Map<string, number[]>();

  private readonly limits: RateLimits;

  constructor(limits: RateLimits) {
    this.limits = limits;
  }

  /** Counts one request by `token` at `now` (ms) unless a limit refuses it. */
  take(token: string, now: number, isListKeys: boolean): RateDecision {
    const hour = prune(this.hourly, token, now - HOUR);
    const inLastMinute = hour.filter((t) => t > now - MINUTE);
    if (inLastMinute.length >= this.limits.perMinute) {
      return this.refuse(hour, now, 0, retryAfter(inLastMinute[0]!, now));
    }
    if (hour.length >= this.limits.perHour) {
      return this.refuse(hour, now, 0, undefined);
    }
    if (isListKeys) {
      const lists = prune(this.listCalls, token, now - MINUTE);
      if (lists.length >= this.limits.listKeysPerMinute) {
        return this.refuse(hour, now, this.limits.perHour - hour.length, retryAfter(lists[0]!, now));
      }
      lists.push(now);
    }
    hour.push(now);
    return { allowed: true, headers: this.headers(hour, now, this.limits.perHour - hour.length) };
  }

  /** Forgets every counted request, as if an hour had passed for every token. */
  reset(): void {
    this.hourly.clear();
    this.listCalls.clear();
  }

  private refuse(hour: number[], now: number, remaining: number, retry: number | undefined): RateDecision {
    const headers = this.headers(hour, now, remaining);
    if (retry !== undefined) headers['retry-after'] = String(retry);
    return { allowed: false, headers };
  }

  private headers(hour: number[], now: number, remaining: number): Record<string, string> {
    const oldest = hour[0] ?? now;
    return {
      'ratelimit-limit': String(this.limits.perHour),
      'ratelimit-remaining': String(Math.max(0, remaining)),
      'ratelimit-reset': String(Math.ceil((oldest + (hour.length ? HOUR : 0)) / 1000)),
    };
  }
}

function prune(store: Map<string, number[]>, token: string, after: number): number[] {
  const kept = (store.get(token) ?? []).filter((t) => t > after);
  store.set(token, kept);
  return kept;
}

/** Whole seconds until the oldest request in a one-minute window leaves it; never less than 1. */
function retryAfter(oldest: number, now: number): number {
  return Math.max(1, Math.ceil((oldest + MINUTE - now) / 1000));
}
