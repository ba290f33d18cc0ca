/**
 * The DigitalOcean rate budget shared by every berth process on one database. Each
 * request is a row in `do_api_calls` (per token hash, never the token), and "may I send
 * now?" is a count over the last minute and hour under a per-token advisory lock, so two
 * processes can never both take the last slot; one SQL function (migration 0005) asks
 * and records, so a call costs one statement. Within a process, waiting deploy calls are
 * served before the others; across processes, background calls leave a reserve of each
 * window to deploy calls, and onboarding calls a larger one (a percent of each window,
 * rate-window.ts), so a burst of sign-ups cannot spend the hour's deploys. The clock is the database's, so processes on
 * different machines agree on the window.
 */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Authz } from '../db/authz.ts';
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

  private readonly options: PgRateBudgetOptions;

  constructor(options: PgRateBudgetOptions) {
    this.options = options;
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
        // Background and onboarding callers in this process step aside while a deploy call waits here.
        const yieldToDeploy = priority !== 'deploy' && this.deployWaiting > 0 ? 20 : 0;
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

  /**
   * Takes a slot and returns 0, or returns how long until one may be free. One statement,
   * `berth_take_do_call` (migration 0005): under the token's advisory lock it counts the
   * long and the short window in one scan, finds the request that keeps a full window
   * full, and records the request when both have room.
   */
  private tryTake(priority: Priority): Promise<number> {
    const [long, short] = [...windowsFor(priority, this.limits)].sort((a, b) => b.windowMs - a.windowMs);
    if (!long || !short) throw new TypeError('the rate budget expects a long and a short window');
    // A window that admits nothing has no request that will leave it: ask again later.
    if (long.max <= 0 || short.max <= 0) return Promise.resolve(this.maxSleepMs);
    // Rows past the long window are never counted again; drop them now and then.
    const prune = Math.random() < 0.01;
    // A transaction of its own (the function commits the ledger row without waiting for
    // the disk, which must not extend to anything else), sent in one round trip.
    return this.options.authz
      .queryAsService(
        'rate budget: take a slot',
        sql`select granted, wait_ms from public.berth_take_do_call(${this.tokenId}::text,
          ${priority}::text, ${this.lockKey}::bigint, ${long.windowMs}::int, ${asInt(long.max)}::int,
          ${short.windowMs}::int, ${asInt(short.max)}::int, ${prune}::boolean)`,
        (row) => row as { granted: boolean; wait_ms: number | null },
      )
      .then(([row]) => {
        if (!row) throw new Error('berth_take_do_call answered no row');
        return row.granted ? 0 : Math.max(1, Math.ceil(row.wait_ms ?? 1));
      });
  }
}

/** A limit as the function's integer: anything past int4 is as good as no limit. */
const asInt = (n: number) => Math.min(n, 2_147_483_647);
