import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAuthz } from '../../src/db/authz.ts';
import { openDatabase, type Tx } from '../../src/db/engine.ts';
import type { Clock } from '../../src/digitalocean/client/index.ts';
import { PgRateBudget } from '../../src/digitalocean/pg-rate-budget.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';

const limits = { perHour: 8, perMinute: 5, deployReserve: 1 };

async function takes(
  budget: PgRateBudget,
  priority: 'deploy' | 'background' | 'onboarding',
  waitMs = 150,
): Promise<boolean> {
  try {
    await budget.acquire(priority, AbortSignal.timeout(waitMs));
    return true;
  } catch {
    return false;
  }
}

/** The first wait a budget asks for, instead of sleeping it: the clock's sleep stops the caller. */
async function firstWait(budget: (clock: Clock) => PgRateBudget, priority: 'deploy' | 'background') {
  let asked: number | undefined;
  const clock: Clock = {
    now: () => Date.now(),
    sleep: async (ms) => {
      asked = ms;
      throw new Error('stop');
    },
  };
  await budget(clock)
    .acquire(priority)
    .catch(() => {});
  return asked;
}

describe.each(testEngines())('the shared DigitalOcean rate budget on %s', (engine: EngineName) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterAll(() => t.close());
  afterEach(() => vi.restoreAllMocks());

  it('counts every process’s calls in one sliding window and never grants past it', async () => {
    // Two budgets on separate connection pools stand for two berth processes.
    const other = t.url ? await openDatabase({ kind: 'postgres', url: t.url, poolSize: 2 }) : null;
    const a = new PgRateBudget({ authz: t.authz, token: 'token-1', limits });
    const b = new PgRateBudget({ authz: other ? createAuthz(other) : t.authz, token: 'token-1', limits });
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

  it('stops a burst of onboarding calls at the reserve of the hour, which deploy calls still get', async () => {
    const budget = new PgRateBudget({
      authz: t.authz,
      token: 'token-onboarding',
      limits: { perHour: 10, perMinute: 50, deployReserve: 1, onboardingReservePercent: 30 },
    });
    // A granted call is granted at once; the long wait only spares a loaded machine.
    const signups = await Promise.all(Array.from({ length: 10 }, () => takes(budget, 'onboarding', 3000)));
    expect(signups.filter(Boolean)).toHaveLength(7);
    expect(await takes(budget, 'onboarding')).toBe(false);
    // Background work keeps its own, smaller reserve; deploys get what is left.
    expect(await takes(budget, 'background', 3000)).toBe(true);
    expect(await takes(budget, 'background', 3000)).toBe(true);
    expect(await takes(budget, 'background')).toBe(false);
    expect(await takes(budget, 'deploy', 3000)).toBe(true);
    expect(await takes(budget, 'deploy')).toBe(false);
    expect(await budget.stats()).toEqual({ lastMinute: 10, lastHour: 10 });
  });

  it('keeps tokens apart', async () => {
    const one = new PgRateBudget({ authz: t.authz, token: 'token-3', limits });
    const two = new PgRateBudget({ authz: t.authz, token: 'token-4', limits });
    for (let i = 0; i < 5; i++) expect(await takes(one, 'deploy')).toBe(true);
    expect(await takes(one, 'deploy')).toBe(false);
    expect(await takes(two, 'deploy')).toBe(true);
  });

  it('waits until the request that fills the minute window leaves it', async () => {
    const make = (clock?: Clock) =>
      new PgRateBudget({
        authz: t.authz,
        token: 'token-5',
        limits,
        maxSleepMs: 3_600_000,
        ...(clock ? { clock } : {}),
      });
    const start = Date.now();
    for (let i = 0; i < 5; i++) expect(await takes(make(), 'deploy')).toBe(true);
    const wait = await firstWait(make, 'deploy');
    // The oldest of the five leaves the minute 60 s after it was sent.
    expect(wait).toBeGreaterThan(60_000 - (Date.now() - start) - 50);
    expect(wait).toBeLessThanOrEqual(60_000);
  });

  it('waits for the hour window when it is the one that is full', async () => {
    const hourly = { perHour: 3, perMinute: 5, deployReserve: 0 };
    const make = (clock?: Clock) =>
      new PgRateBudget({
        authz: t.authz,
        token: 'token-6',
        limits: hourly,
        maxSleepMs: 3_600_000,
        ...(clock ? { clock } : {}),
      });
    for (let i = 0; i < 3; i++) expect(await takes(make(), 'deploy')).toBe(true);
    const wait = await firstWait(make, 'deploy');
    expect(wait).toBeGreaterThan(3_600_000 - 60_000);
    expect(wait).toBeLessThanOrEqual(3_600_000);
  });

  it('asks again later, without a count, when a window admits nothing', async () => {
    const none = { perHour: 8, perMinute: 1, deployReserve: 1 };
    const make = (clock?: Clock) =>
      new PgRateBudget({
        authz: t.authz,
        token: 'token-7',
        limits: none,
        maxSleepMs: 250,
        ...(clock ? { clock } : {}),
      });
    expect(await firstWait(make, 'background')).toBe(250);
    expect(await make().stats()).toEqual({ lastMinute: 0, lastHour: 0 });
  });

  it('drops its token’s rows past the hour now and then, and nobody else’s', async () => {
    const budget = new PgRateBudget({ authz: t.authz, token: 'token-8', limits });
    const other = new PgRateBudget({ authz: t.authz, token: 'token-9', limits });
    for (let i = 0; i < 3; i++) expect(await takes(budget, 'deploy')).toBe(true);
    expect(await takes(other, 'deploy')).toBe(true);
    const ledger = () =>
      t.authz.asService('test: read the ledger', async (tx) => {
        const result = await tx.execute(
          sql`select token_id, count(*)::int as n from do_api_calls group by token_id`,
        );
        const rows = (result as unknown as { rows: { token_id: string; n: number }[] }).rows;
        return new Map(rows.map((row) => [row.token_id, row.n]));
      });
    // Every token's rows, these two's and the earlier tests', fall out of the hour.
    await t.authz.asService('test: age the ledger', (tx) =>
      tx.execute(sql`update do_api_calls set at = at - interval '61 minutes'`),
    );
    const before = await ledger();
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect(await takes(budget, 'deploy')).toBe(true);
    const after = await ledger();
    // Only this token's count changed: its three old rows went, its new one is there.
    const changed = [...after].filter(([token, n]) => before.get(token) !== n);
    expect(changed.map(([, n]) => n)).toEqual([1]);
    expect(before.get(changed[0]![0])).toBe(3);
    expect(after.size).toBe(before.size);
  });

  it('commits its ledger row without waiting for the disk, and only the transaction it runs in', async () => {
    const setting = (tx: Tx) =>
      tx
        .execute(sql`select current_setting('synchronous_commit') as value`)
        .then((result) => (result as unknown as { rows: { value: string }[] }).rows[0]?.value);
    const [before, during] = await t.authz.asService('test: take a slot', async (tx) => {
      const first = await setting(tx);
      await tx.execute(
        sql`select * from berth_take_do_call('token-10', 'deploy', 10, 3600000, 5, 60000, 5, false)`,
      );
      return [first, await setting(tx)];
    });
    expect(before).toBe('on');
    expect(during).toBe('off');
    expect(await t.authz.asService('test: a later transaction', setting)).toBe('on');
  });

  it('cannot be taken from as a user', async () => {
    const userId = await t.createUser();
    const error = await t.authz
      .withUser(userId, (tx) =>
        tx.execute(sql`select * from berth_take_do_call('x', 'deploy', 1, 3600000, 5, 60000, 5, false)`),
      )
      .catch((e: unknown) => e);
    // drizzle wraps the database's error; its cause says why.
    expect(String((error as { cause?: unknown }).cause)).toMatch(
      /permission denied for function berth_take_do_call/,
    );
  });
});
