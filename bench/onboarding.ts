/**
 * Onboarding under a sign-up burst: 1,000 users registered at once through
 * `enhancedUserRegistration`, each then onboarded by the `onboard-user` job against the
 * DigitalOcean emulator with its real limits (250 requests per minute, 5,000 per hour).
 * It checks that every user ends `ready` with exactly one default key and one key on
 * DigitalOcean (nothing lost, nothing duplicated), prints the p99 event-loop delay during
 * the burst (target < 20 ms), and compares the time DigitalOcean registration took with
 * the shortest the rate budget allows for the calls it needed (target ≤ 1.1×, no 429).
 *
 * Time is scaled (default ×5, `--scale`): the emulator, the rate budget and the client
 * share a clock on which a minute lasts 12 real seconds, so the limits mean what they
 * mean while the run takes about two minutes. Database and CPU work are not scaled, so
 * they weigh `scale` times more than at real speed: the first window's calls go out only
 * as fast as the first users' keys are made (while the rest of the burst is still
 * signing up), and every later window repeats that spread, so the registration time
 * exceeds the minimum by about `scale` × that time. `--scale 1` runs at real speed
 * (about eight minutes), and `--shared-budget` uses berth's database-backed budget, which
 * runs in real time only.
 *
 * Standalone: node --import tsx bench/onboarding.ts [--users 1000] [--scale 5] [--shared-budget]
 *   [--concurrency N] [--database-url postgres://…/postgres] (an admin URL: a scratch
 *   database is made and dropped)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { sql } from 'drizzle-orm';
import { createAuthz } from '../src/db/authz.ts';
import { runMigrations } from '../src/db/migrate.ts';
import {
  DIGITALOCEAN_LIMITS,
  DigitalOceanClient,
  InMemoryRateBudget,
} from '../src/digitalocean/client/index.ts';
import { createEmulator } from '../src/digitalocean/emulator/index.ts';
import { PgRateBudget } from '../src/digitalocean/pg-rate-budget.ts';
import { createKeyring, generateMasterKey } from '../src/domain/vault/keyring.ts';
import { onboardUserJob } from '../src/jobs/onboard-user.ts';
import { JobQueue } from '../src/jobs/queue.ts';
import { createLogger } from '../src/observability/logger.ts';
import { KeyRegistrar } from '../src/services/key-registration.ts';
import { createKeygenPool } from '../src/services/keygen-pool.ts';
import { UserOnboardingService } from '../src/services/onboarding-service.ts';
import { SshKeyService } from '../src/services/ssh-key-service.ts';
import { DbSecretStore, EncryptedSecretStore } from '../src/store/secrets.ts';
import {
  eventLoopDelayP99,
  minimumBackgroundSpanMs,
  minimumFullLimitSpanMs,
  openBenchDatabase,
  RESOLUTION_MS,
  recordingFetch,
  scaledClock,
} from './onboarding-support.ts';
import { type BenchRow, formatTable } from './table.ts';

export interface OnboardingBenchOptions {
  users?: number;
  /** How much faster than real time DigitalOcean's windows pass. Default 5. */
  timeScale?: number;
  /** An admin URL of a PostgreSQL server; without it the run uses PGlite. */
  databaseUrl?: string;
  /** onboard-user jobs run at once. Default: the job's own default. */
  concurrency?: number;
  /** Longest the run may take, in real ms. Default 15 minutes. */
  timeoutMs?: number;
  /**
   * Use berth's production budget, shared through the database (PgRateBudget). Its
   * windows run on the database's clock, so this needs `timeScale` 1: a real-time run.
   */
  sharedBudget?: boolean;
  /** Writes every DigitalOcean call (method, path, status, scaled times) to this file. */
  dumpCallsTo?: string;
}

const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;

export async function benchOnboarding(options: OnboardingBenchOptions = {}): Promise<BenchRow[]> {
  const users = options.users ?? 1000;
  const scale = options.sharedBudget ? 1 : (options.timeScale ?? 5);
  const clock = scaledClock(scale);
  const logger = createLogger({ level: 'warn' });
  const database = await openBenchDatabase(options.databaseUrl);
  const engine = `${database.engine.kind}${options.sharedBudget ? ', shared budget' : ''}`;
  const token = randomBytes(16).toString('hex');
  const emulator = createEmulator({ token, clock: clock.now, ssh: { enabled: false } });
  const listening = await emulator.listen(0);
  const keygen = createKeygenPool();
  let queue: JobQueue | null = null;
  try {
    await runMigrations(database.engine);
    const authz = createAuthz(database);
    const secrets = new EncryptedSecretStore(
      new DbSecretStore(),
      createKeyring([generateMasterKey('bench')]),
    );
    const sshKeys = new SshKeyService({ authz, secrets, keygen });
    const traffic = recordingFetch(clock);
    const client = new DigitalOceanClient({
      baseUrl: listening.url,
      token: () => token,
      rateBudget: options.sharedBudget
        ? new PgRateBudget({ authz, token })
        : new InMemoryRateBudget({ clock, limits: DIGITALOCEAN_LIMITS }),
      clock,
      fetch: traffic.fetch,
    });
    const registrar = new KeyRegistrar({ authz, registry: client });
    queue = new JobQueue({ engine: database.engine, logger });
    const onboarding = new UserOnboardingService({ authz, sshKeys, registrar, queue, logger });
    queue.define(onboardUserJob(onboarding, options.concurrency ? { concurrency: options.concurrency } : {}));
    await queue.start();

    const ids = Array.from({ length: users }, () => randomUUID());
    const idleDelay = await eventLoopDelayP99(() => sleep(3_000));
    const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    loop.enable();
    const started = performance.now();
    // Each sign-up starts in its own turn of the event loop, as HTTP requests arriving
    // back to back would (starting all of them in one synchronous loop would measure
    // that loop); none waits for another.
    const signUps: Promise<unknown>[] = [];
    for (const id of ids) {
      signUps.push(onboarding.enhancedUserRegistration({ id, email: `${id}@bench.test` }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(signUps);
    const registeredMs = performance.now() - started;
    const deadline = started + (options.timeoutMs ?? 15 * 60_000);
    let ready = 0;
    while (ready < users && performance.now() < deadline) {
      await sleep(100);
      const [row] = rowsOf<{ ready: number }>(
        await database.db.execute(
          sql`select count(*)::int as ready from user_onboarding where status = 'ready'`,
        ),
      );
      ready = row?.ready ?? 0;
    }
    const wallMs = performance.now() - started;
    loop.disable();

    const [keys] = rowsOf<{ defaults: number; users_with_one: number; registered: number; runs: number }>(
      await database.db.execute(sql`
        select (select count(*) from user_ssh_keys where is_default)::int as defaults,
               (select count(*) from (select user_id from user_ssh_keys where is_default
                  group by user_id having count(*) = 1) one)::int as users_with_one,
               (select count(*) from user_ssh_keys where digitalocean_key_id is not null)::int as registered,
               (select coalesce(sum(attempts), 0) from user_onboarding)::int as runs`),
    );
    const onDigitalOcean = new Set([...emulator.state.keys.values()].map((k) => k.fingerprint)).size;
    const doKeys = emulator.state.keys.size;
    const calls = traffic.calls;
    if (options.dumpCallsTo) writeFileSync(options.dumpCallsTo, JSON.stringify(calls));
    const rateLimited = calls.filter((c) => c.status === 429).length;
    // A key berth generated is created without a lookup first (ensure-ssh-key.ts): one call.
    const needed = users;
    const firstCall = Math.min(...calls.map((c) => c.startedAt));
    const lastAnswer = Math.max(...calls.map((c) => c.endedAt));
    const spanMs = lastAnswer - firstCall;
    const minimumMs = minimumBackgroundSpanMs(needed, DIGITALOCEAN_LIMITS);
    const p99 = loop.percentile(99) / 1e6 - RESOLUTION_MS;
    const lost = users - ready;
    const duplicated = (keys?.defaults ?? 0) - (keys?.users_with_one ?? 0) + (doKeys - onDigitalOcean);
    return [
      {
        name: `onboarding (${engine}): sign-ups registered (one transaction each)`,
        value: users / (registeredMs / 1000),
        unit: 'sign-ups/s',
      },
      {
        name: `onboarding (${engine}): users ready`,
        value: ready,
        unit: 'users',
        target: `= ${users}`,
        pass: ready === users,
      },
      {
        name: `onboarding (${engine}): users lost (not ready)`,
        value: lost,
        unit: 'users',
        target: '= 0',
        pass: lost === 0,
      },
      {
        name: `onboarding (${engine}): users with exactly one default key`,
        value: keys?.users_with_one ?? 0,
        unit: 'users',
        target: `= ${users}`,
        pass: keys?.users_with_one === users,
      },
      {
        name: `onboarding (${engine}): keys on DigitalOcean`,
        value: doKeys,
        unit: 'keys',
        target: `= ${users}`,
        pass: doKeys === users,
      },
      {
        name: `onboarding (${engine}): duplicated keys (berth or DigitalOcean)`,
        value: duplicated,
        unit: 'keys',
        target: '= 0',
        pass: duplicated === 0,
      },
      {
        name: `onboarding (${engine}): job runs (retries included)`,
        value: keys?.runs ?? 0,
        unit: 'runs',
        baseline: users,
        baselineName: 'one per user',
      },
      {
        name: `onboarding (${engine}): DigitalOcean calls`,
        value: calls.length,
        unit: 'calls',
        baseline: needed,
        baselineName: '1 per new key',
        target: `= ${needed}`,
        pass: calls.length === needed,
      },
      {
        name: `onboarding (${engine}): DigitalOcean 429 answers`,
        value: rateLimited,
        unit: 'answers',
        target: '= 0',
        pass: rateLimited === 0,
      },
      {
        name: `onboarding (${engine}): p99 event-loop delay during the burst`,
        value: p99,
        unit: 'ms',
        baseline: idleDelay,
        baselineName: 'this process idle, 3 s before',
        target: '< 20 ms',
        pass: p99 < 20,
      },
      {
        name: `onboarding (${engine}): DigitalOcean registration time (clock ×${scale})`,
        value: spanMs / 1000,
        unit: 's',
        baseline: minimumMs / 1000,
        baselineName: 'budget minimum, background share',
        // With every call inside one window the budget allows "all at once": no ratio.
        ...(minimumMs > 0 ? { target: 'ratio ≤ 1.1', pass: spanMs / minimumMs <= 1.1 } : {}),
      },
      {
        name: `onboarding (${engine}): same, against the full 250/min (no deploy reserve)`,
        value: spanMs / 1000,
        unit: 's',
        baseline: minimumFullLimitSpanMs(needed, DIGITALOCEAN_LIMITS) / 1000,
        baselineName: 'minimum at 250/min',
      },
      // Sign-ups boot no droplet: the emulator here runs light droplets, none of them used.
      {
        name: `onboarding (${engine}): wall time of the run (light droplets, none booted)`,
        value: wallMs / 1000,
        unit: 's (real)',
      },
      // Delays and the scaled times are only as good as the machine was quiet.
      {
        name: 'onboarding: machine load average (1 min) at the end',
        value: loadavg()[0] ?? 0,
        unit: `(${cpus().length} CPUs)`,
      },
    ];
  } finally {
    await queue?.close();
    await keygen.close();
    await emulator.close();
    await database.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const at = process.argv.indexOf(`--${name}`);
    return at === -1 ? undefined : process.argv[at + 1];
  };
  const users = arg('users');
  const scale = arg('scale');
  const concurrency = arg('concurrency');
  const rows = await benchOnboarding({
    ...(users ? { users: Number(users) } : {}),
    ...(scale ? { timeScale: Number(scale) } : {}),
    ...(concurrency ? { concurrency: Number(concurrency) } : {}),
    ...(arg('database-url') ? { databaseUrl: arg('database-url') } : {}),
    sharedBudget: process.argv.includes('--shared-budget'),
    ...(arg('dump-calls') ? { dumpCallsTo: arg('dump-calls') } : {}),
  });
  console.log(formatTable(rows));
}
