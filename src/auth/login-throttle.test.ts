import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './login-throttle.ts';

describe('the failed sign-in throttle', () => {
  const make = () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle({
      freeAttempts: 3,
      baseDelayMs: 1000,
      maxDelayMs: 8000,
      now: () => now,
    });
    return { throttle, advance: (ms: number) => (now += ms) };
  };

  it('lets the first failures through, then makes each attempt wait twice as long as the last', () => {
    const { throttle, advance } = make();
    const key = LoginThrottle.key('Alice@Example.com ', '198.51.100.7');
    for (let i = 0; i < 3; i++) {
      expect(throttle.check(key)).toEqual({ allowed: true });
      throttle.recordFailure(key);
    }
    expect(throttle.check(key)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    advance(1000);
    expect(throttle.check(key)).toEqual({ allowed: true });
    throttle.recordFailure(key);
    expect(throttle.check(key)).toEqual({ allowed: false, retryAfterSeconds: 2 });
    for (let i = 0; i < 5; i++) throttle.recordFailure(key);
    expect(throttle.check(key)).toEqual({ allowed: false, retryAfterSeconds: 8 });
  });

  it('keeps addresses and emails apart, ignoring the email’s case', () => {
    const { throttle } = make();
    const key = LoginThrottle.key('alice@example.com', '198.51.100.7');
    for (let i = 0; i < 4; i++) throttle.recordFailure(key);
    expect(throttle.check(LoginThrottle.key('ALICE@example.com', '198.51.100.7')).allowed).toBe(false);
    expect(throttle.check(LoginThrottle.key('alice@example.com', '198.51.100.8')).allowed).toBe(true);
    expect(throttle.check(LoginThrottle.key('bob@example.com', '198.51.100.7')).allowed).toBe(true);
  });

  it('forgets the failures after a success', () => {
    const { throttle, advance } = make();
    const key = LoginThrottle.key('a@b.c', 'ip');
    for (let i = 0; i < 4; i++) throttle.recordFailure(key);
    advance(2000);
    throttle.recordSuccess(key);
    throttle.recordFailure(key);
    expect(throttle.check(key)).toEqual({ allowed: true });
  });
});
