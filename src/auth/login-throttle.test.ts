import { describe, expect, it } from 'vitest';
import { LoginThrottle, type ThrottledAttempt } from './login-throttle.ts';

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
  /** Starts an attempt that must be let through. */
  const start = (throttle: LoginThrottle, key: string): ThrottledAttempt => {
    const decision = throttle.attempt(key);
    if (!decision.allowed) throw new Error(`refused for ${decision.retryAfterSeconds} s`);
    return decision.attempt;
  };
  const fail = (throttle: LoginThrottle, key: string) => start(throttle, key).failed();
  /** Starts `n` attempts before any of them is settled, as concurrent requests do. */
  const startMany = (throttle: LoginThrottle, key: string, n: number) =>
    Array.from({ length: n }, () => throttle.attempt(key));
  const passed = (decisions: ReturnType<LoginThrottle['attempt']>[]) =>
    decisions.flatMap((d) => (d.allowed ? [d.attempt] : []));

  it('lets the first failures through, then makes each attempt wait twice as long as the last', () => {
    const { throttle, advance } = make();
    const key = LoginThrottle.key('Alice@Example.com ', '198.51.100.7');
    for (let i = 0; i < 3; i++) fail(throttle, key);
    expect(throttle.attempt(key)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    advance(1000);
    fail(throttle, key);
    expect(throttle.attempt(key)).toEqual({ allowed: false, retryAfterSeconds: 2 });
    advance(2000);
    fail(throttle, key);
    advance(4000);
    fail(throttle, key);
    advance(8000);
    fail(throttle, key);
    expect(throttle.attempt(key)).toEqual({ allowed: false, retryAfterSeconds: 8 });
  });

  it('keeps addresses and emails apart, ignoring the email’s case', () => {
    const { throttle } = make();
    const key = LoginThrottle.key('alice@example.com', '198.51.100.7');
    for (let i = 0; i < 3; i++) fail(throttle, key);
    expect(throttle.attempt(LoginThrottle.key('ALICE@example.com', '198.51.100.7')).allowed).toBe(false);
    expect(throttle.attempt(LoginThrottle.key('alice@example.com', '198.51.100.8')).allowed).toBe(true);
    expect(throttle.attempt(LoginThrottle.key('bob@example.com', '198.51.100.7')).allowed).toBe(true);
  });

  it('forgets the failures after a success', () => {
    const { throttle, advance } = make();
    const key = LoginThrottle.key('a@b.c', 'ip');
    for (let i = 0; i < 3; i++) fail(throttle, key);
    advance(1000);
    start(throttle, key).succeeded();
    for (let i = 0; i < 3; i++) fail(throttle, key);
    expect(throttle.attempt(key).allowed).toBe(false);
  });

  it('lets no more concurrent attempts through than the free allowance', () => {
    const { throttle } = make();
    const key = LoginThrottle.key('a@b.c', 'ip');
    const first = startMany(throttle, key, 40);
    expect(passed(first)).toHaveLength(3);
    expect(first.slice(3)).toEqual(Array(37).fill({ allowed: false, retryAfterSeconds: 1 }));
    for (const attempt of passed(first)) attempt.failed();
    expect(throttle.attempt(key).allowed).toBe(false);
  });

  it('lets one attempt at a time through once the delay is over, however many arrive together', () => {
    const { throttle, advance } = make();
    const key = LoginThrottle.key('a@b.c', 'ip');
    for (let i = 0; i < 3; i++) fail(throttle, key);
    advance(1000);
    const burst = passed(startMany(throttle, key, 40));
    expect(burst).toHaveLength(1);
    burst[0]?.failed();
    // The next attempt waits the doubled delay, counted from that failure.
    advance(1999);
    expect(throttle.attempt(key).allowed).toBe(false);
    advance(1);
    expect(passed(startMany(throttle, key, 40))).toHaveLength(1);
  });

  it('frees an abandoned attempt’s slot without counting it, and settles each attempt once', () => {
    const { throttle } = make();
    const key = LoginThrottle.key('a@b.c', 'ip');
    const attempts = passed(startMany(throttle, key, 3));
    expect(throttle.attempt(key).allowed).toBe(false);
    attempts[0]?.abandon();
    attempts[0]?.failed();
    const next = throttle.attempt(key);
    expect(next.allowed).toBe(true);
    if (next.allowed) next.attempt.abandon();
    attempts[1]?.failed();
    attempts[2]?.failed();
    // Two failures recorded: one free attempt is left, and only one.
    expect(passed(startMany(throttle, key, 5))).toHaveLength(1);
  });

  it('keeps in-flight attempts counted when a success clears the failures meanwhile', () => {
    const { throttle } = make();
    const key = LoginThrottle.key('a@b.c', 'ip');
    const [right, ...wrong] = passed(startMany(throttle, key, 3));
    right?.succeeded();
    // The two wrong ones are still being evaluated: one more may start, not three.
    expect(passed(startMany(throttle, key, 3))).toHaveLength(1);
    for (const attempt of wrong) attempt.failed();
  });
});
