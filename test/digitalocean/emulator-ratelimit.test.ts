import { afterEach, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/digitalocean/emulator/ratelimit.ts';
import { type TestEmulator, testEmulator } from '../support/do-spec.ts';

const T0 = Date.UTC(2026, 0, 1);

describe('the rate limiter', () => {
  it('counts down remaining requests and reports when the oldest expires', () => {
    const limiter = new RateLimiter({ perHour: 5, perMinute: 5, listKeysPerMinute: 5 });
    const first = limiter.take('tok', T0, false);
    expect(first.headers).toEqual({
      'ratelimit-limit': '5',
      'ratelimit-remaining': '4',
      'ratelimit-reset': String((T0 + 3_600_000) / 1000),
    });
    const second = limiter.take('tok', T0 + 10_000, false);
    expect(second.headers['ratelimit-remaining']).toBe('3');
    // The reset is when the oldest request leaves the hour, not an hour from now.
    expect(second.headers['ratelimit-reset']).toBe(String((T0 + 3_600_000) / 1000));
  });

  it('refuses past the burst limit with retry-after until the minute has passed', () => {
    const limiter = new RateLimiter({ perHour: 100, perMinute: 2, listKeysPerMinute: 10 });
    limiter.take('tok', T0, false);
    limiter.take('tok', T0 + 20_000, false);
    const refused = limiter.take('tok', T0 + 30_000, false);
    expect(refused.allowed).toBe(false);
    expect(refused.headers['retry-after']).toBe('30');
    expect(refused.headers['ratelimit-remaining']).toBe('0');
    expect(limiter.take('tok', T0 + 60_001, false).allowed).toBe(true);
  });

  it('refuses past the hourly limit without retry-after and frees requests one by one', () => {
    const limiter = new RateLimiter({ perHour: 2, perMinute: 100, listKeysPerMinute: 10 });
    limiter.take('tok', T0, false);
    limiter.take('tok', T0 + 600_000, false);
    const refused = limiter.take('tok', T0 + 1_200_000, false);
    expect(refused.allowed).toBe(false);
    expect(refused.headers['retry-after']).toBeUndefined();
    // Sliding: the first request expires an hour after it was made, the second not yet.
    expect(limiter.take('tok', T0 + 3_600_001, false).allowed).toBe(true);
    expect(limiter.take('tok', T0 + 3_600_002, false).allowed).toBe(false);
  });

  it('keeps each token separate', () => {
    const limiter = new RateLimiter({ perHour: 1, perMinute: 1, listKeysPerMinute: 1 });
    expect(limiter.take('a', T0, false).allowed).toBe(true);
    expect(limiter.take('b', T0, false).allowed).toBe(true);
    expect(limiter.take('a', T0, false).allowed).toBe(false);
  });
});

describe('rate limits on the emulated API', () => {
  let t: TestEmulator;
  let now = T0;
  afterEach(async () => {
    expect(t.responseViolations()).toEqual([]);
    await t.emulator.close();
  });

  it('sends the rate-limit headers on every answer, errors included', async () => {
    t = testEmulator({ clock: () => now });
    for (const [path, expected] of [
      ['/v2/droplets', 200],
      ['/v2/droplets/1', 404],
    ] as const) {
      const res = await t.api('GET', path);
      expect(res.status).toBe(expected);
      expect(res.headers['ratelimit-limit']).toBe('5000');
      expect(Number(res.headers['ratelimit-remaining'])).toBeLessThan(5000);
      expect(Number(res.headers['ratelimit-reset'])).toBeGreaterThanOrEqual(Math.floor(now / 1000));
    }
  });

  it("answers 429 with DigitalOcean's body and retry-after when the burst limit is hit", async () => {
    now = T0;
    t = testEmulator({ clock: () => now, rateLimits: { perMinute: 3 } });
    for (let i = 0; i < 3; i++) expect((await t.api('GET', '/v2/droplets')).status).toBe(200);
    const limited = await t.api('GET', '/v2/droplets');
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ id: 'too_many_requests', message: 'API rate limit exceeded.' });
    expect(limited.headers['retry-after']).toBe('60');
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    now += 60_001;
    expect((await t.api('GET', '/v2/droplets')).status).toBe(200);
  });

  it('answers 429 without retry-after when the hourly limit is hit', async () => {
    now = T0;
    t = testEmulator({ clock: () => now, rateLimits: { perHour: 2 } });
    await t.api('GET', '/v2/droplets');
    await t.api('GET', '/v2/droplets');
    const limited = await t.api('GET', '/v2/droplets');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBeUndefined();
  });

  it('allows only 10 key list calls per 60 seconds, but key lookups by fingerprint go on', async () => {
    now = T0;
    t = testEmulator({ clock: () => now });
    for (let i = 0; i < 10; i++) expect((await t.api('GET', '/v2/account/keys')).status).toBe(200);
    const limited = await t.api('GET', '/v2/account/keys');
    expect(limited.status).toBe(429);
    expect(limited.body.id).toBe('too_many_requests');
    expect(limited.headers['retry-after']).toBe('60');
    expect(
      (await t.api('GET', '/v2/account/keys/aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99')).status,
    ).toBe(404);
    now += 60_001;
    expect((await t.api('GET', '/v2/account/keys')).status).toBe(200);
  });
});
