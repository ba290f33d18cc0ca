/**
 * Pure delay arithmetic for retries: jittered exponential backoff for failures the server
 * gave no timing for, and the reading and clamping of the delays DigitalOcean does give
 * (`retry-after` in seconds, `ratelimit-reset` as a Unix time). Server-given delays are
 * clamped to a floor and a ceiling because `ratelimit-reset` has been seen in the past
 * (which would mean "retry now", a storm) and could be far away (a stalled deploy); the
 * rate budget re-checks before every request, so a capped wait is still safe.
 */

export interface RetryOptions {
  /** Retries after the first attempt; the total number of requests is this plus one. */
  maxRetries: number;
  /** First backoff delay; each further retry doubles it, jittered. */
  baseDelayMs: number;
  /** Upper bound of the exponential backoff. */
  maxDelayMs: number;
  /** Smallest wait taken from a server's rate-limit headers, and after any 429. */
  serverDelayFloorMs: number;
  /** Largest wait taken from a server's rate-limit headers. */
  serverDelayCeilingMs: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxRetries: 4,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  serverDelayFloorMs: 1_000,
  serverDelayCeilingMs: 60_000,
};

/** What DigitalOcean's rate-limit headers said, in milliseconds since the epoch or from now. */
export interface RateObservation {
  /** When the response carrying these headers was received. */
  observedAtMs: number;
  status: number;
  limit?: number;
  remaining?: number;
  /** When the oldest counted request expires, as DigitalOcean reported it (unclamped). */
  resetAtMs?: number;
  /** How long DigitalOcean asked to wait (unclamped); sent only with burst-limit 429s. */
  retryAfterMs?: number;
}

export function clampDelay(ms: number, floorMs: number, ceilingMs: number): number {
  if (!Number.isFinite(ms)) return ms > 0 ? ceilingMs : floorMs;
  return Math.min(ceilingMs, Math.max(floorMs, ms));
}

/**
 * "Equal jitter" exponential backoff for 1-based `attempt`: half the capped exponential
 * delay is fixed and half is random, so retries spread out yet never come back at once.
 */
export function exponentialDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number,
): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(full / 2 + random() * (full / 2));
}

function headerNumber(headers: Headers, name: string): number | undefined {
  const raw = headers.get(name);
  if (raw === null || raw.trim() === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/** Reads the rate-limit headers of one response; absent or garbled headers are left out. */
export function parseRateHeaders(headers: Headers, status: number, nowMs: number): RateObservation {
  const observation: RateObservation = { observedAtMs: nowMs, status };
  const limit = headerNumber(headers, 'ratelimit-limit');
  const remaining = headerNumber(headers, 'ratelimit-remaining');
  const reset = headerNumber(headers, 'ratelimit-reset');
  if (limit !== undefined) observation.limit = limit;
  if (remaining !== undefined) observation.remaining = remaining;
  if (reset !== undefined) observation.resetAtMs = reset * 1000;
  const retryAfterRaw = headers.get('retry-after');
  if (retryAfterRaw !== null) {
    const seconds = Number(retryAfterRaw);
    if (retryAfterRaw.trim() !== '' && Number.isFinite(seconds)) observation.retryAfterMs = seconds * 1000;
    else {
      // RFC 9110 also allows an HTTP date here; DigitalOcean sends seconds, but be lenient.
      const date = Date.parse(retryAfterRaw);
      if (Number.isFinite(date)) observation.retryAfterMs = date - nowMs;
    }
  }
  return observation;
}

/**
 * How long the server asked callers to hold off, clamped; undefined when it asked nothing.
 * `retry-after` wins; otherwise `ratelimit-reset` counts only when nothing remains.
 */
export function serverDelay(
  observation: RateObservation,
  floorMs: number,
  ceilingMs: number,
): number | undefined {
  if (observation.retryAfterMs !== undefined) return clampDelay(observation.retryAfterMs, floorMs, ceilingMs);
  if (
    observation.remaining !== undefined &&
    observation.remaining <= 0 &&
    observation.resetAtMs !== undefined
  ) {
    return clampDelay(observation.resetAtMs - observation.observedAtMs, floorMs, ceilingMs);
  }
  return undefined;
}

/**
 * The wait before retrying after a 429: the server's (clamped) delay when it gave one, else
 * the exponential backoff raised to the floor, because a 429 retried sooner only adds load.
 */
export function rateLimitedDelay(
  observation: RateObservation,
  attempt: number,
  options: RetryOptions,
  random: () => number,
): number {
  const fromServer = serverDelay(observation, options.serverDelayFloorMs, options.serverDelayCeilingMs);
  if (fromServer !== undefined) return fromServer;
  return clampDelay(
    exponentialDelay(attempt, options.baseDelayMs, options.maxDelayMs, random),
    options.serverDelayFloorMs,
    options.serverDelayCeilingMs,
  );
}
