/**
 * Sliding-window arithmetic for DigitalOcean's per-token rate limits, kept pure so that the
 * in-memory budget and a shared (database-backed) budget compute waits the same way.
 * DigitalOcean counts each request for a full window from the moment it was made (5,000
 * per hour and 250 per minute), so the question "may I send now, and if not, when?" is
 * answered from the timestamps of earlier requests alone.
 */

/**
 * Who a call serves, most entitled first: `deploy` (a deploy or teardown a person waits
 * for) may use every window in full; `background` (the reconciler, cleanup) leaves
 * `deployReserve` of each window; `onboarding` (a new user's key registered by the
 * onboarding job) leaves `onboardingReservePercent` of each, so that a burst of sign-ups
 * cannot take the calls the hour's deploys need. Each class's windows are within those
 * of the class before it.
 */
export type Priority = 'deploy' | 'background' | 'onboarding';

/** The priorities in the order a budget serves its waiters. */
export const PRIORITY_ORDER: readonly Priority[] = ['deploy', 'background', 'onboarding'];

export interface WindowLimit {
  windowMs: number;
  max: number;
}

export interface RateLimits {
  perHour: number;
  perMinute: number;
  /**
   * Requests of the minute window that background callers leave unused, so that a deploy
   * arriving during a background burst still finds room at once.
   */
  deployReserve: number;
  /**
   * Percent of each window (the hour's and the minute's) that onboarding calls leave
   * unused, for deploys and teardowns; never less than `deployReserve`. Absent: 0.
   */
  onboardingReservePercent?: number;
}

/** The default of `BERTH_DIGITALOCEAN_DEPLOY_RESERVE_PERCENT`. */
export const DEFAULT_ONBOARDING_RESERVE_PERCENT = 20;

export const DIGITALOCEAN_LIMITS: RateLimits = {
  perHour: 5000,
  perMinute: 250,
  deployReserve: 25,
  onboardingReservePercent: DEFAULT_ONBOARDING_RESERVE_PERCENT,
};

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** The windows that apply to one priority: background and onboarding callers see smaller maxima. */
export function windowsFor(priority: Priority, limits: RateLimits): WindowLimit[] {
  const reserve = (max: number) => {
    if (priority === 'deploy') return 0;
    if (priority === 'background') return limits.deployReserve;
    const percent = Math.min(100, Math.max(0, limits.onboardingReservePercent ?? 0));
    return Math.max(limits.deployReserve, Math.ceil((max * percent) / 100));
  };
  return [
    { windowMs: HOUR_MS, max: Math.max(0, limits.perHour - reserve(limits.perHour)) },
    { windowMs: MINUTE_MS, max: Math.max(0, limits.perMinute - reserve(limits.perMinute)) },
  ];
}

/**
 * Milliseconds until one more request fits every window, 0 when it fits now.
 * `timestamps` are the send times of earlier requests in ascending order; the ones that
 * fell out of the longest window may be present and are ignored. A window whose max is 0
 * never admits a request, which is reported as Infinity rather than a made-up delay.
 */
export function computeWait(
  timestamps: readonly number[],
  now: number,
  windows: readonly WindowLimit[],
): number {
  let wait = 0;
  for (const { windowMs, max } of windows) {
    if (max <= 0) return Number.POSITIVE_INFINITY;
    const start = firstInWindow(timestamps, now - windowMs);
    const count = timestamps.length - start;
    if (count < max) continue;
    // The window frees a slot when the oldest request that keeps it full expires: with
    // `count` requests inside and room for `max`, that is the (count - max)th in order.
    const blocker = timestamps[start + (count - max)]!;
    wait = Math.max(wait, blocker + windowMs - now);
  }
  return wait;
}

/** Index of the first timestamp strictly after `since` (binary search; input is sorted). */
function firstInWindow(timestamps: readonly number[], since: number): number {
  let lo = 0;
  let hi = timestamps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (timestamps[mid]! <= since) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many leading timestamps fell out of the longest window and can be forgotten. */
export function expiredCount(
  timestamps: readonly number[],
  now: number,
  windows: readonly WindowLimit[],
): number {
  const longest = Math.max(...windows.map((w) => w.windowMs));
  return firstInWindow(timestamps, now - longest);
}
