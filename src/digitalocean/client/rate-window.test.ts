import { describe, expect, it } from 'vitest';
import { computeWait, DIGITALOCEAN_LIMITS, expiredCount, windowsFor } from './rate-window.ts';

const minute = (max: number) => [{ windowMs: 60_000, max }];

describe('computeWait', () => {
  it('admits a request at once while every window has room', () => {
    expect(computeWait([1000, 2000], 3000, minute(3))).toBe(0);
    expect(computeWait([], 0, windowsFor('deploy', DIGITALOCEAN_LIMITS))).toBe(0);
  });

  it('waits until the oldest request of a full window is a window old', () => {
    // Three requests at 1 s, 2 s, 3 s fill a window of three; the one at 1 s frees its slot at 61 s.
    expect(computeWait([1000, 2000, 3000], 10_000, minute(3))).toBe(51_000);
  });

  it('counts only the requests that are still inside the window', () => {
    // The request at 0 expired at 60 s; at 70 s only two remain in a window of three.
    expect(computeWait([0, 65_000, 66_000], 70_000, minute(3))).toBe(0);
  });

  it('when the window is over-full, waits for enough requests to expire to fit one more', () => {
    // Five requests in a window now limited to three: the third oldest (at 3 s) must expire.
    expect(computeWait([1000, 2000, 3000, 4000, 5000], 10_000, minute(3))).toBe(53_000);
  });

  it('takes the longest wait across windows, so the hourly limit governs when the minute has room', () => {
    const hourFull = Array.from({ length: 5 }, (_, i) => i * 1000);
    const windows = [
      { windowMs: 3_600_000, max: 5 },
      { windowMs: 60_000, max: 250 },
    ];
    // At two minutes in the minute window is empty, but the hour holds five until 3,600 s.
    expect(computeWait(hourFull, 120_000, windows)).toBe(3_600_000 - 120_000);
  });

  it('reports a window that admits nothing as an infinite wait, not a made-up delay', () => {
    expect(computeWait([], 0, minute(0))).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('windowsFor', () => {
  it('gives deploys the full DigitalOcean limits of 5,000 an hour and 250 a minute', () => {
    expect(windowsFor('deploy', DIGITALOCEAN_LIMITS)).toEqual([
      { windowMs: 3_600_000, max: 5000 },
      { windowMs: 60_000, max: 250 },
    ]);
  });

  it('holds back the deploy reserve from background callers', () => {
    const limits = { perHour: 100, perMinute: 10, deployReserve: 3 };
    expect(windowsFor('background', limits)).toEqual([
      { windowMs: 3_600_000, max: 97 },
      { windowMs: 60_000, max: 7 },
    ]);
  });

  it('holds back a percent of each window from onboarding callers, at least the deploy reserve', () => {
    expect(windowsFor('onboarding', DIGITALOCEAN_LIMITS)).toEqual([
      { windowMs: 3_600_000, max: 4000 },
      { windowMs: 60_000, max: 200 },
    ]);
    const limits = { perHour: 100, perMinute: 10, deployReserve: 3, onboardingReservePercent: 10 };
    expect(windowsFor('onboarding', limits)).toEqual([
      { windowMs: 3_600_000, max: 90 },
      { windowMs: 60_000, max: 7 },
    ]);
    expect(windowsFor('onboarding', { ...limits, onboardingReservePercent: 0 })).toEqual(
      windowsFor('background', limits),
    );
  });
});

describe('expiredCount', () => {
  it('counts the timestamps older than the longest window', () => {
    const windows = windowsFor('deploy', DIGITALOCEAN_LIMITS);
    expect(expiredCount([0, 1000, 3_600_500, 3_700_000], 3_601_000, windows)).toBe(2);
  });
});
