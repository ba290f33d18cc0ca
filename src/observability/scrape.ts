/**
 * Figures read when Prometheus scrapes rather than counted as they happen: the
 * DigitalOcean rate budget left, the circuit breaker's state, queue depth and the
 * dead-letter list, users by onboarding status, environments by status. Most come from
 * the database, which every berth process shares, so each process reports the same
 * numbers (dashboards take `max`, not `sum`). Database reads are cached for `maxAgeMs`
 * and shared by concurrent scrapes, so several Prometheus servers cost one query per
 * interval. A read that fails leaves its gauge empty (absent, not stale) and is counted.
 */
import { sql } from 'drizzle-orm';
import { Gauge, type Registry } from 'prom-client';
import type { Authz } from '../db/authz.ts';
import { ENVIRONMENT_STATES, ONBOARDING_STATES } from '../db/schema.ts';

type Counts<K extends string> = { [key in K]: string } & { count: number };

export interface ScrapeSources {
  rateBudget: {
    stats(): Promise<{ lastMinute: number; lastHour: number }>;
    limits: { perMinute: number; perHour: number };
  };
  breakerState: () => 'closed' | 'half-open' | 'open';
  jobCounts: () => Promise<Counts<'queue' | 'state'>[]>;
  onboardingCounts: () => Promise<Counts<'status'>[]>;
  environmentCounts: () => Promise<Counts<'status'>[]>;
}

export interface ScrapeOptions {
  /** Told of each failed read (once per failure). */
  onError: (source: keyof ScrapeSources, error: unknown) => void;
  /** How long a database read is reused. Default 15 s. */
  maxAgeMs?: number;
  now?: () => number;
}

const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

/** `read`, reused while younger than `maxAgeMs`; a failed read is not reused. */
export function cachedRead<T>(read: () => Promise<T>, maxAgeMs: number, now: () => number): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | null = null;
  return () => {
    const at = now();
    if (last && at - last.at < maxAgeMs) return last.value;
    const value = read();
    const entry = { at, value };
    last = entry;
    value.catch(() => {
      if (last === entry) last = null;
    });
    return value;
  };
}

/** Registers the scrape-time gauges; a source left out leaves its gauge empty. */
export function registerScrapeGauges(
  registry: Registry,
  sources: Partial<ScrapeSources>,
  options: ScrapeOptions,
): void {
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? 15_000;
  const registers = [registry];
  const cached = <T>(read: (() => Promise<T>) | undefined) =>
    read ? cachedRead(read, maxAgeMs, now) : undefined;

  /** Reads a source into a gauge; empties the gauge when there is nothing to report. */
  const fill = async <T>(
    gauge: Gauge,
    source: keyof ScrapeSources,
    read: (() => Promise<T>) | undefined,
    write: (value: T) => void,
  ) => {
    gauge.reset();
    if (!read) return;
    try {
      write(await read());
    } catch (error) {
      gauge.reset();
      options.onError(source, error);
    }
  };

  const budget = cached(sources.rateBudget && (() => sources.rateBudget!.stats()));
  const limits = sources.rateBudget?.limits;
  new Gauge({
    name: 'berth_digitalocean_rate_budget_remaining',
    help: 'DigitalOcean requests left in the sliding window (minute, hour), shared by every berth on the database.',
    labelNames: ['window'],
    registers,
    async collect() {
      await fill(this, 'rateBudget', budget, (used) => {
        if (!limits) return;
        this.set({ window: 'minute' }, Math.max(0, limits.perMinute - used.lastMinute));
        this.set({ window: 'hour' }, Math.max(0, limits.perHour - used.lastHour));
      });
    },
  });
  new Gauge({
    name: 'berth_digitalocean_rate_budget_limit',
    help: 'DigitalOcean’s rate limit for the window (minute, hour).',
    labelNames: ['window'],
    registers,
    collect() {
      this.reset();
      if (!limits) return;
      this.set({ window: 'minute' }, limits.perMinute);
      this.set({ window: 'hour' }, limits.perHour);
    },
  });
  new Gauge({
    name: 'berth_digitalocean_circuit_state',
    help: 'This process’s DigitalOcean circuit breaker: 0 closed, 1 half-open, 2 open.',
    registers,
    collect() {
      this.reset();
      if (sources.breakerState) this.set(BREAKER_VALUE[sources.breakerState()]);
    },
  });

  const jobs = cached(sources.jobCounts);
  new Gauge({
    name: 'berth_jobs',
    help: 'Jobs by queue and state (created, retry, active, failed = the dead-letter list), from the database.',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      await fill(this, 'jobCounts', jobs, (rows) => {
        const queues = new Set(rows.map((r) => r.queue));
        // Every queue seen reports every state, so "no dead jobs" is a 0, not a gap.
        for (const queue of queues) {
          for (const state of ['created', 'retry', 'active', 'failed']) this.set({ queue, state }, 0);
        }
        for (const row of rows) this.set({ queue: row.queue, state: row.state }, row.count);
      });
    },
  });

  const onboarding = cached(sources.onboardingCounts);
  new Gauge({
    name: 'berth_onboarding_users',
    help: 'Users by onboarding status (pending, generating, registering, ready, failed), from the database.',
    labelNames: ['status'],
    registers,
    async collect() {
      await fill(this, 'onboardingCounts', onboarding, (rows) => {
        for (const status of ONBOARDING_STATES) this.set({ status }, 0);
        for (const row of rows) this.set({ status: row.status }, row.count);
      });
    },
  });

  const environments = cached(sources.environmentCounts);
  new Gauge({
    name: 'berth_tool_environments',
    help: 'Tool environments by status (deleted ones left out), from the database.',
    labelNames: ['status'],
    registers,
    async collect() {
      await fill(this, 'environmentCounts', environments, (rows) => {
        for (const status of ENVIRONMENT_STATES) if (status !== 'deleted') this.set({ status }, 0);
        for (const row of rows) this.set({ status: row.status }, row.count);
      });
    },
  });
}

const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;

/** Users per onboarding status: one grouped count. */
export function countOnboardingStates(authz: Authz): Promise<Counts<'status'>[]> {
  return authz.asService('metrics: onboarding states', async (tx) =>
    rowsOf<{ status: string; count: number }>(
      await tx.execute(sql`select status, count(*)::int as count from user_onboarding group by status`),
    ),
  );
}

/** Environments per status, leaving out the deleted ones (the index on status serves it). */
export function countEnvironmentStates(authz: Authz): Promise<Counts<'status'>[]> {
  return authz.asService('metrics: environment states', async (tx) =>
    rowsOf<{ status: string; count: number }>(
      await tx.execute(
        sql`select status, count(*)::int as count from agent_droplets where status <> 'deleted' group by status`,
      ),
    ),
  );
}
