import { describe, expect, it } from 'vitest';
import {
  clampDelay,
  DEFAULT_RETRY,
  exponentialDelay,
  parseRateHeaders,
  rateLimitedDelay,
  serverDelay,
} from './backoff.ts';

const NOW = 1_700_000_000_000;

describe('clampDelay', () => {
  it('raises a reset already in the past to the floor, so it cannot cause a retry storm', () => {
    expect(clampDelay(-30_000, 1000, 60_000)).toBe(1000);
  });

  it('caps a reset hours away at the ceiling, so a deploy does not stall', () => {
    expect(clampDelay(3 * 3_600_000, 1000, 60_000)).toBe(60_000);
  });

  it('keeps a delay inside the bounds as it is, and maps NaN to the floor', () => {
    expect(clampDelay(29_000, 1000, 60_000)).toBe(29_000);
    expect(clampDelay(Number.NaN, 1000, 60_000)).toBe(1000);
  });
});

describe('exponentialDelay', () => {
  it('doubles per attempt with half of each delay random', () => {
    expect(exponentialDelay(1, 100, 10_000, () => 0)).toBe(50);
    expect(exponentialDelay(1, 100, 10_000, () => 1)).toBe(100);
    expect(exponentialDelay(3, 100, 10_000, () => 0)).toBe(200);
    expect(exponentialDelay(3, 100, 10_000, () => 1)).toBe(400);
  });

  it('never exceeds the maximum however many attempts were made', () => {
    expect(exponentialDelay(40, 100, 8000, () => 1)).toBe(8000);
    expect(exponentialDelay(40, 100, 8000, () => 0)).toBe(4000);
  });
});

describe('parseRateHeaders', () => {
  it('reads DigitalOcean rate-limit headers into milliseconds', () => {
    const headers = new Headers({
      'ratelimit-limit': '5000',
      'ratelimit-remaining': '0',
      'RateLimit-Reset': String(NOW / 1000 + 40),
      'retry-after': '29',
    });
    expect(parseRateHeaders(headers, 429, NOW)).toEqual({
      observedAtMs: NOW,
      status: 429,
      limit: 5000,
      remaining: 0,
      resetAtMs: NOW + 40_000,
      retryAfterMs: 29_000,
    });
  });

  it('accepts retry-after given as an HTTP date', () => {
    const headers = new Headers({ 'retry-after': new Date(NOW + 5000).toUTCString() });
    expect(parseRateHeaders(headers, 429, NOW).retryAfterMs).toBe(5000);
  });

  it('leaves out headers that are absent or not numbers', () => {
    const headers = new Headers({ 'ratelimit-remaining': 'lots', 'retry-after': 'soon' });
    expect(parseRateHeaders(headers, 200, NOW)).toEqual({ observedAtMs: NOW, status: 200 });
  });
});

describe('serverDelay', () => {
  it('prefers retry-after, clamped', () => {
    expect(
      serverDelay(
        { observedAtMs: NOW, status: 429, retryAfterMs: 29_000, remaining: 0, resetAtMs: NOW + 50_000 },
        1000,
        60_000,
      ),
    ).toBe(29_000);
    expect(serverDelay({ observedAtMs: NOW, status: 429, retryAfterMs: 0 }, 1000, 60_000)).toBe(1000);
  });

  it('uses ratelimit-reset only when nothing remains', () => {
    expect(
      serverDelay({ observedAtMs: NOW, status: 200, remaining: 12, resetAtMs: NOW + 50_000 }, 1000, 60_000),
    ).toBeUndefined();
    expect(
      serverDelay({ observedAtMs: NOW, status: 429, remaining: 0, resetAtMs: NOW + 50_000 }, 1000, 60_000),
    ).toBe(50_000);
  });

  it('clamps a reset in the past to the floor and one hours away to the ceiling', () => {
    expect(
      serverDelay({ observedAtMs: NOW, status: 429, remaining: 0, resetAtMs: NOW - 600_000 }, 1000, 60_000),
    ).toBe(1000);
    expect(
      serverDelay({ observedAtMs: NOW, status: 429, remaining: 0, resetAtMs: NOW + 7_200_000 }, 1000, 60_000),
    ).toBe(60_000);
  });
});

describe('rateLimitedDelay', () => {
  it('falls back to the backoff raised to the floor when the 429 carried no timing', () => {
    const options = { ...DEFAULT_RETRY, baseDelayMs: 10, serverDelayFloorMs: 1000 };
    expect(rateLimitedDelay({ observedAtMs: NOW, status: 429 }, 1, options, () => 0)).toBe(1000);
  });

  it('follows the server when it said how long to wait', () => {
    expect(
      rateLimitedDelay({ observedAtMs: NOW, status: 429, retryAfterMs: 7000 }, 1, DEFAULT_RETRY, () => 0),
    ).toBe(7000);
  });
});
