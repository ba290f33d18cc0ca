import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { cachedRead, registerScrapeGauges, type ScrapeSources } from './scrape.ts';

async function values(registry: Registry, name: string) {
  const metric = await registry.getSingleMetric(name)?.get();
  return Object.fromEntries(
    (metric?.values ?? []).map((v) => [Object.values(v.labels).join(',') || '_', v.value]),
  );
}

describe('reads at scrape time', () => {
  it('reuses a read while it is fresh and shares it between concurrent scrapes', async () => {
    let now = 0;
    let reads = 0;
    const read = cachedRead(
      async () => ++reads,
      1000,
      () => now,
    );
    expect(await Promise.all([read(), read()])).toEqual([1, 1]);
    now = 999;
    expect(await read()).toBe(1);
    now = 1000;
    expect(await read()).toBe(2);
  });

  it('does not keep a failed read: the next scrape asks again', async () => {
    let fail = true;
    const read = cachedRead(
      async () => {
        if (fail) throw new Error('database down');
        return 'ok';
      },
      60_000,
      () => 0,
    );
    await expect(read()).rejects.toThrow('database down');
    fail = false;
    expect(await read()).toBe('ok');
  });

  it('reports the budget left per window, the breaker as a number and every status, zeros included', async () => {
    const registry = new Registry();
    const sources: ScrapeSources = {
      rateBudget: {
        stats: async () => ({ lastMinute: 240, lastHour: 1000 }),
        limits: { perMinute: 250, perHour: 5000 },
      },
      breakerState: () => 'open',
      jobCounts: async () => [{ queue: 'onboard-user', state: 'failed', count: 2 }],
      onboardingCounts: async () => [{ status: 'ready', count: 7 }],
      environmentCounts: async () => [{ status: 'active', count: 3 }],
    };
    registerScrapeGauges(registry, sources, { onError: () => {} });
    expect(await values(registry, 'berth_digitalocean_rate_budget_remaining')).toEqual({
      minute: 10,
      hour: 4000,
    });
    expect(await values(registry, 'berth_digitalocean_rate_budget_limit')).toEqual({
      minute: 250,
      hour: 5000,
    });
    expect(await values(registry, 'berth_digitalocean_circuit_state')).toEqual({ _: 2 });
    expect(await values(registry, 'berth_jobs')).toEqual({
      'onboard-user,created': 0,
      'onboard-user,retry': 0,
      'onboard-user,active': 0,
      'onboard-user,failed': 2,
    });
    expect(await values(registry, 'berth_onboarding_users')).toEqual({
      pending: 0,
      generating: 0,
      registering: 0,
      ready: 7,
      failed: 0,
    });
    const environments = await values(registry, 'berth_tool_environments');
    expect(environments).toMatchObject({ active: 3, error_creation: 0, unresponsive: 0 });
    expect(environments).not.toHaveProperty('deleted');
  });

  it('leaves a gauge empty, not stale, when its read fails, and says which source failed', async () => {
    const registry = new Registry();
    const errors: string[] = [];
    let down = false;
    registerScrapeGauges(
      registry,
      {
        onboardingCounts: async () => {
          if (down) throw new Error('connection refused');
          return [{ status: 'ready', count: 1 }];
        },
      },
      { onError: (source) => errors.push(source), maxAgeMs: 0 },
    );
    expect(await values(registry, 'berth_onboarding_users')).toMatchObject({ ready: 1 });
    down = true;
    expect(await values(registry, 'berth_onboarding_users')).toEqual({});
    expect(errors).toEqual(['onboardingCounts']);
    // A scrape still succeeds as a whole: the other figures are served.
    await expect(registry.metrics()).resolves.toContain('berth_tool_environments');
  });
});
