import { describe, expect, it } from 'vitest';
import { InMemoryRateBudget } from './rate-budget.ts';
import { manualClock } from './testing.ts';

/** Tracks which acquisitions have resolved, in order, without awaiting them. */
function tracker() {
  const granted: string[] = [];
  return {
    granted,
    track(label: string, promise: Promise<void>) {
      promise.then(
        () => granted.push(label),
        () => granted.push(`${label}:rejected`),
      );
      return promise;
    },
  };
}

const small = { perHour: 1000, perMinute: 3, deployReserve: 0 };

describe('InMemoryRateBudget', () => {
  it('grants requests at once while the minute window has room', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({ limits: small, clock });
    const t = tracker();
    for (const label of ['a', 'b', 'c']) t.track(label, budget.acquire('deploy'));
    await clock.advance(0);
    expect(t.granted).toEqual(['a', 'b', 'c']);
  });

  it('queues the request that would exceed 250-a-minute style limits until the oldest expires', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({ limits: small, clock });
    const t = tracker();
    for (const label of ['a', 'b', 'c']) t.track(label, budget.acquire('deploy'));
    await clock.advance(10_000);
    t.track('d', budget.acquire('deploy'));
    await clock.advance(49_999);
    expect(t.granted).toEqual(['a', 'b', 'c']);
    await clock.advance(1);
    expect(t.granted).toEqual(['a', 'b', 'c', 'd']);
  });

  it('serves a deploy call before background calls that were waiting longer', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({
      limits: { perHour: 1000, perMinute: 2, deployReserve: 0 },
      clock,
    });
    const t = tracker();
    t.track('first', budget.acquire('background'));
    t.track('second', budget.acquire('background'));
    await clock.advance(1000);
    t.track('bg-1', budget.acquire('background'));
    t.track('bg-2', budget.acquire('background'));
    await clock.advance(1000);
    t.track('deploy', budget.acquire('deploy'));
    // Both slots free at 60 s: the deploy that arrived last goes first.
    await clock.advance(58_000);
    expect(t.granted).toEqual(['first', 'second', 'deploy', 'bg-1']);
    await clock.advance(60_000);
    expect(t.granted).toEqual(['first', 'second', 'deploy', 'bg-1', 'bg-2']);
  });

  it('keeps a reserve of the minute window that only deploy calls may use', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({
      limits: { perHour: 1000, perMinute: 5, deployReserve: 2 },
      clock,
    });
    const t = tracker();
    for (const label of ['bg-1', 'bg-2', 'bg-3', 'bg-4']) t.track(label, budget.acquire('background'));
    t.track('deploy-1', budget.acquire('deploy'));
    t.track('deploy-2', budget.acquire('deploy'));
    await clock.advance(0);
    // Background stops at 5 - 2 = 3; the deploys still get the two reserved slots.
    expect(t.granted.sort()).toEqual(['bg-1', 'bg-2', 'bg-3', 'deploy-1', 'deploy-2']);
    expect(budget.stats()).toEqual({ lastMinute: 5, lastHour: 5, waiting: 1 });
  });

  it('stops a burst of onboarding calls at the reserve of the hour, which deploy calls still get', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({
      limits: { perHour: 10, perMinute: 100, deployReserve: 0, onboardingReservePercent: 30 },
      clock,
    });
    const t = tracker();
    for (let i = 1; i <= 10; i++) t.track(`signup-${i}`, budget.acquire('onboarding'));
    await clock.advance(60_000);
    // 30 % of the hour's 10 is kept: onboarding stops at 7, minutes later still.
    expect(t.granted).toHaveLength(7);
    for (const label of ['deploy-1', 'deploy-2', 'teardown']) t.track(label, budget.acquire('deploy'));
    await clock.advance(0);
    expect(t.granted.slice(7)).toEqual(['deploy-1', 'deploy-2', 'teardown']);
    expect(budget.stats()).toEqual({ lastMinute: 3, lastHour: 10, waiting: 3 });
  });

  it('serves a background call that fits while an onboarding call waits for its reserve', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({
      limits: { perHour: 10, perMinute: 100, deployReserve: 1, onboardingReservePercent: 50 },
      clock,
    });
    const t = tracker();
    for (let i = 1; i <= 6; i++) t.track(`signup-${i}`, budget.acquire('onboarding'));
    t.track('reconcile', budget.acquire('background'));
    await clock.advance(0);
    expect(t.granted.sort()).toEqual([
      'reconcile',
      'signup-1',
      'signup-2',
      'signup-3',
      'signup-4',
      'signup-5',
    ]);
  });

  it('rejects a waiting acquisition when its signal aborts and forgets it', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({
      limits: { perHour: 1000, perMinute: 1, deployReserve: 0 },
      clock,
    });
    await budget.acquire('deploy');
    const controller = new AbortController();
    const waiting = budget.acquire('deploy', controller.signal);
    controller.abort(new Error('deploy cancelled'));
    await expect(waiting).rejects.toThrow('deploy cancelled');
    expect(budget.stats().waiting).toBe(0);
  });

  it('holds every caller for the retry-after of a 429, not only the one that got it', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({ limits: small, clock });
    budget.observe({ observedAtMs: clock.now(), status: 429, retryAfterMs: 5000, remaining: 0 });
    const t = tracker();
    t.track('a', budget.acquire('deploy'));
    await clock.advance(4999);
    expect(t.granted).toEqual([]);
    await clock.advance(1);
    expect(t.granted).toEqual(['a']);
  });

  it('after a burst-limit 429 waits for retry-after, not for a ratelimit-reset further away', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({ limits: small, clock });
    budget.observe({
      observedAtMs: clock.now(),
      status: 429,
      retryAfterMs: 2000,
      remaining: 0,
      resetAtMs: clock.now() + 50_000,
    });
    const t = tracker();
    t.track('a', budget.acquire('deploy'));
    await clock.advance(1999);
    expect(t.granted).toEqual([]);
    await clock.advance(1);
    expect(t.granted).toEqual(['a']);
  });

  it('after the server reports nothing remaining with a reset in the past, sends one probe per floor interval', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({
      limits: { perHour: 1000, perMinute: 100, deployReserve: 0 },
      clock,
    });
    budget.observe({
      observedAtMs: clock.now(),
      status: 200,
      remaining: 0,
      resetAtMs: clock.now() - 600_000,
    });
    const t = tracker();
    for (const label of ['a', 'b', 'c']) t.track(label, budget.acquire('deploy'));
    await clock.advance(999);
    expect(t.granted).toEqual([]);
    await clock.advance(1);
    expect(t.granted).toEqual(['a']);
    await clock.advance(1000);
    expect(t.granted).toEqual(['a', 'b']);
    // Once the server says there is room again, the rest go at once.
    budget.observe({
      observedAtMs: clock.now(),
      status: 200,
      remaining: 100,
      resetAtMs: clock.now() + 3_000_000,
    });
    await clock.advance(0);
    expect(t.granted).toEqual(['a', 'b', 'c']);
  });

  it('caps the wait for a reset hours away at the ceiling', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({ limits: small, clock, serverDelayCeilingMs: 60_000 });
    budget.observe({
      observedAtMs: clock.now(),
      status: 200,
      remaining: 0,
      resetAtMs: clock.now() + 5 * 3_600_000,
    });
    const t = tracker();
    t.track('a', budget.acquire('deploy'));
    await clock.advance(59_999);
    expect(t.granted).toEqual([]);
    await clock.advance(1);
    expect(t.granted).toEqual(['a']);
  });

  it('never sends more than the server said remained', async () => {
    const clock = manualClock();
    const budget = new InMemoryRateBudget({
      limits: { perHour: 1000, perMinute: 100, deployReserve: 0 },
      clock,
    });
    budget.observe({ observedAtMs: clock.now(), status: 200, remaining: 2, resetAtMs: clock.now() + 30_000 });
    const t = tracker();
    for (const label of ['a', 'b', 'c']) t.track(label, budget.acquire('deploy'));
    await clock.advance(29_999);
    expect(t.granted).toEqual(['a', 'b']);
    await clock.advance(1);
    expect(t.granted).toEqual(['a', 'b', 'c']);
  });
});
