/**
 * The DigitalOcean rate budget shared by every berth process on one database. Each
 * request is a row in `do_api_calls` (per token hash, never the token), and "may I send
 * now?" is a count over the last minute and hour under a per-token advisory lock, so two
 * processes can never both take the last slot. Within a process, waiting deploy calls are
 * served before waiting background calls; across processes, background calls leave a
 * reserve of each minute to deploy calls. The clock is the database's, so processes on
 * different machines agree on the window.
 */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Authz } from '../db/authz.ts';
import type { Tx } from '../db/engine.ts';
import { type RateObservation, serverDelay } from './client/backoff.ts';
import type { Clock, Priority, RateBudget, RateLimits } from './client/index.ts';
import { DIGITALOCEAN_LIMITS, systemClock, windowsFor } from './client/index.ts';

export interface PgRateBudgetOptions {
  authz: Authz;
  /** The token's identity; only a hash of it is stored. */
  token: string;
  limits?: RateLimits;
  clock?: Clock;
  /** Longest single sleep before asking the database again (another process may free room). */
  maxSleepMs?: number;
}

const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;

export class PgRateBudget implements RateBudget {
  private readonly tokenId: string;
  private readonly limits: RateLimits;
  private readonly clock: Clock;
  private readonly maxSleepMs: number;
  private readonly lockKey: number;
  private deployWaiting = 0;
  private heldUntil = 0;

  constructor(private readonly options: PgRateBudgetOptions) {
    this.tokenId = createHash('sha256').update(options.token).digest('hex').slice(0, 32);
    this.limits = options.limits ?? DIGITALOCEAN_LIMITS;
    this.clock = options.clock ?? systemClock;
    this.maxSleepMs = options.maxSleepMs ?? 1000;
    this.lockKey = Number.parseInt(this.tokenId.slice(0, 7), 16);
  }

  async acquire(priority: Priority, signal?: AbortSignal): Promise<void> {
    if (priority === 'deploy') this.deployWaiting++;
    try {
      for (;;) {
        signal?.throwIfAborted();
        const hold = this.heldUntil - this.clock.now();
        // Background callers in this process step aside while a deploy call waits here.
        const yieldToDeploy = priority === 'background' && this.deployWaiting > 0 ? 20 : 0;
        const wait =
          Math.max(hold, yieldToDeploy) > 0 ? Math.max(hold, yieldToDeploy) : await this.tryTake(priority);
        if (wait === 0) return;
        await this.clock.sleep(Math.min(wait, this.maxSleepMs), signal);
      }
    } finally {
      if (priority === 'deploy') this.deployWaiting--;
    }
  }

  observe(observation: RateObservation): void {
    let hold = serverDelay(observation, 1000, 60_000);
    if (hold === undefined && observation.status === 429) hold = 1000;
    if (hold !== undefined) this.heldUntil = Math.max(this.heldUntil, observation.observedAtMs + hold);
  }

  /** Requests counted in the last minute and hour, for metrics. */
  async stats(): Promise<{ lastMinute: number; lastHour: number }> {
    return this.options.authz.asService('rate budget: stats', async (tx) => {
      const [row] = rowsOf<{ minute: number; hour: number }>(
        await tx.execute(sql`select count(*) filter (where at > clock_timestamp() - interval '1 minute')::int as minute,
          count(*)::int as hour from do_api_calls where token_id = ${this.tokenId} and at > clock_timestamp() - interval '1 hour'`),
      );
      return { lastMinute: row?.minute ?? 0, lastHour: row?.hour ?? 0 };
    });
  }

  /** Takes a slot and returns 0, or returns how long until one may be free. */
  private tryTake(priority: Priority): Promise<number> {
    return this.options.authz.asService('rate budget: take a slot', async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${this.lockKey})`);
      let wait = 0;
      for (const { windowMs, max } of windowsFor(priority, this.limits)) {
        wait = Math.max(wait, await this.windowWait(tx, windowMs, max));
      }
      if (wait > 0) return wait;
      await tx.execute(
        sql`insert into do_api_calls (token_id, priority, at) values (${this.tokenId}, ${priority}, clock_timestamp())`,
      );
      // Rows past the hour are never counted again; drop them now and then.
      if (Math.random() < 0.01) {
        await tx.execute(
          sql`delete from do_api_calls where token_id = ${this.tokenId} and at < clock_timestamp() - interval '1 hour'`,
        );
      }
      return 0;
    });
  }

  /** 0 when the window has room; else ms until its blocking request leaves the window. */
  private async windowWait(tx: Tx, windowMs: number, max: number): Promise<number> {
    if (max <= 0) return this.maxSleepMs;
    const interval = `${windowMs} milliseconds`;
    const [count] = rowsOf<{ n: number }>(
      await tx.execute(sql`select count(*)::int as n from do_api_calls
        where token_id = ${this.tokenId} and at > clock_timestamp() - ${interval}::interval`),
    );
    const n = count?.n ?? 0;
    if (n < max) return 0;
    const [blocker] = rowsOf<{ ms: number }>(
      await tx.execute(sql`select greatest(0, extract(epoch from (at + ${interval}::interval - clock_timestamp())) * 1000)::float8 as ms
        from do_api_calls where token_id = ${this.tokenId} and at > clock_timestamp() - ${interval}::interval
        order by at offset ${n - max} limit 1`),
    );
    return Math.max(1, Math.ceil(blocker?.ms ?? 1));
  }
}
