import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthz } from '../../src/db/authz.ts';
import { openDatabase } from '../../src/db/engine.ts';
import { PgRateBudget } from '../../src/digitalocean/pg-rate-budget.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';

const limits = { perHour: 8, perMinute: 5, deployReserve: 1 };

async function takes(
  budget: PgRateBudget,
  priority: 'deploy' | 'background',
  waitMs = 150,
): Promise<boolean> {
  try {
    await budget.acquire(priority, AbortSignal.timeout(waitMs));
    return true;
  } catch {
    return false;
  }
}

describe.each(testEngines())('the shared DigitalOcean rate budget on %s', (engine: EngineName) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterAll(() => t.close());

  it('counts every process’s calls in one sliding window and never grants past it', async () => {
    // Two budgets on separate connection pools stand for two berth processes.
    const other = t.url ? await openDatabase({ kind: 'postgres', url: t.url, poolSize: 2 }) : null;
    const a = new PgRateBudget({ authz: t.authz, token: 'token-1', limits });
    const b = new PgRateBudget({ authz: other ? createAuthz(other.db) : t.authz, token: 'token-1', limits });
    try {
      const granted = await Promise.all([a, b, a, b, a, b, a].map((budget) => takes(budget, 'deploy')));
      expect(granted.filter(Boolean)).toHaveLength(5);
      expect(await a.stats()).toEqual({ lastMinute: 5, lastHour: 5 });
    } finally {
      await other?.close();
    }
  });

  it('keeps a reserve of the minute for deploy calls', async () => {
    const budget = new PgRateBudget({ authz: t.authz, token: 'token-2', limits });
    const background = [];
    for (let i = 0; i < 5; i++) background.push(await takes(budget, 'background'));
    expect(background).toEqual([true, true, true, true, false]);
    expect(await takes(budget, 'deploy')).toBe(true);
    expect(await takes(budget, 'deploy')).toBe(false);
  });

  it('keeps tokens apart', async () => {
    const one = new PgRateBudget({ authz: t.authz, token: 'token-3', limits });
    const two = new PgRateBudget({ authz: t.authz, token: 'token-4', limits });
    for (let i = 0; i < 5; i++) expect(await takes(one, 'deploy')).toBe(true);
    expect(await takes(one, 'deploy')).toBe(false);
    expect(await takes(two, 'deploy')).toBe(true);
  });
});
