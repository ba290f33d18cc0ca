import { describe, expect, it } from 'vitest';
import { TokenBuckets } from './rate-limit.ts';

describe('token buckets', () => {
  it('allows a burst of the capacity, then one request per refill interval', () => {
    let now = 0;
    const buckets = new TokenBuckets(3, 60, () => now);
    expect([1, 2, 3].map(() => buckets.take('k').ok)).toEqual([true, true, true]);
    expect(buckets.take('k')).toEqual({ ok: false, retryAfterSeconds: 1 });
    now += 1000;
    expect(buckets.take('k').ok).toBe(true);
    expect(buckets.take('k').ok).toBe(false);
  });

  it('keeps keys apart and never refills beyond the capacity', () => {
    let now = 0;
    const buckets = new TokenBuckets(2, 6, () => now);
    buckets.take('a');
    buckets.take('a');
    expect(buckets.take('a')).toEqual({ ok: false, retryAfterSeconds: 10 });
    expect(buckets.take('b').ok).toBe(true);
    now += 3_600_000;
    expect([1, 2, 3].map(() => buckets.take('a').ok)).toEqual([true, true, false]);
  });
});
