/**
 * berth's durable job queue: pg-boss 10 on whichever engine berth runs (its own small
 * pool on PostgreSQL, the embedded database on PGlite), so jobs survive restarts and
 * every berth process on one database shares them. Each job kind is declared once
 * (`define`) with its data schema, handler and retry policy; `start` creates the queues
 * and, in a worker process, runs them. Sending wakes workers through LISTEN/NOTIFY, with
 * polling as the fallback. A job that fails its last retry stays in pg-boss's `failed`
 * state: the dead-letter list that `berth jobs failed` shows and `berth jobs retry`
 * puts back. See docs/decisions.md ("Background jobs") for why it is built this way.
 */
import PgBoss from 'pg-boss';
import type { EngineClient, Tx } from '../db/engine.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../domain/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { type OwnedBossDb, pgliteBossDb, postgresBossDb, transactionBossDb } from './boss-db.ts';
import type { ResolvedJobDefinition } from './definition.ts';
import {
  COUNTED_STATES,
  countJobs,
  findJob,
  type JobState,
  type JobSummary,
  listFailedJobs,
} from './inspect.ts';
import { type JobObserver, QueueRunner, type RunnerStore } from './runner.ts';
import { JOBS_CHANNEL, NOTIFY_SQL, pgliteWakeups, postgresWakeups, type Wakeups } from './wakeups.ts';

export interface JobQueueOptions {
  engine: EngineClient;
  logger: Logger;
  /**
   * `worker` (berth serve) runs handlers, pg-boss's maintenance (expiring the jobs of
   * dead workers) and its cron clock; `client` (the CLI) only sends and inspects.
   */
  role?: 'worker' | 'client';
  /** PostgreSQL only: connections in the queue's own pool. Default 4. */
  poolSize?: number;
  /** How often an idle queue looks for jobs when no notification came. Default 5000. */
  pollingIntervalMs?: number;
  /** How often one process expires the jobs of dead workers and archives. Default 30. */
  maintenanceIntervalSeconds?: number;
  /** How long handlers get to finish at close before their jobs are handed back. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Days failed jobs stay retryable in the dead-letter list. Default 14. */
  failedRetentionDays?: number;
  /** How often the cron clock checks for due schedules (1–45). Default 30. */
  cronCheckSeconds?: number;
  /** Told how each job run ended (metrics). */
  observer?: JobObserver;
}

export interface SendOptions {
  /** A fixed job id: sending it again while the job exists enqueues nothing. */
  id?: string;
  /** A Date, or seconds from now. */
  startAfter?: Date | number;
  /** With `singletonSeconds`, or a singleton/stately queue: one job per key. */
  singletonKey?: string;
  singletonSeconds?: number;
  priority?: number;
  retryLimit?: number;
  expireInSeconds?: number;
}

// biome-ignore lint/suspicious/noExplicitAny: definitions of any data type share one registry
type AnyDefinition = ResolvedJobDefinition<any>;
type JobRef<T> = ResolvedJobDefinition<T> | string;

export const QUEUE_SCHEMA = 'pgboss';

export class JobQueue {
  private readonly definitions = new Map<string, AnyDefinition>();
  private readonly runners = new Map<string, QueueRunner>();
  private readonly db: OwnedBossDb;
  private readonly boss: PgBoss;
  private readonly wakeups: Wakeups;
  private readonly role: 'worker' | 'client';
  private state: 'new' | 'starting' | 'started' | 'closed' = 'new';

  private readonly options: JobQueueOptions;

  constructor(options: JobQueueOptions) {
    this.options = options;
    const { engine, logger } = options;
    this.role = options.role ?? 'worker';
    this.db =
      engine.kind === 'postgres'
        ? postgresBossDb(engine.url, options.poolSize ?? 4)
        : pgliteBossDb(engine.pglite);
    this.wakeups =
      engine.kind === 'postgres' ? postgresWakeups(engine.url, logger) : pgliteWakeups(engine.pglite);
    const worker = this.role === 'worker';
    this.boss = new PgBoss({
      db: this.db,
      schema: QUEUE_SCHEMA,
      migrate: true,
      supervise: worker,
      schedule: worker,
      maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? 30,
      archiveFailedAfterSeconds: (options.failedRetentionDays ?? 14) * 86_400,
      cronMonitorIntervalSeconds: options.cronCheckSeconds ?? 30,
      cronWorkerIntervalSeconds: Math.min(5, options.cronCheckSeconds ?? 5),
    });
    this.boss.on('error', (error) => logger.warn({ err: error }, 'job queue maintenance error'));
  }

  /** Declares a job kind. Call before `start`. */
  define(definition: AnyDefinition): this {
    if (this.state !== 'new') throw new Error(`define job "${definition.name}" before the queue starts`);
    if (this.definitions.has(definition.name)) throw new Error(`job "${definition.name}" is defined twice`);
    this.definitions.set(definition.name, definition);
    return this;
  }

  /** Creates pg-boss's tables and the queues, then (worker role) starts running jobs. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('the job queue was already started');
    this.state = 'starting';
    await this.boss.start();
    for (const definition of this.definitions.values()) await this.ensureQueue(definition);
    if (this.role === 'worker') {
      for (const { name, schedule } of this.definitions.values()) {
        if (schedule) await this.boss.schedule(name, schedule.cron, schedule.data as object, { tz: 'UTC' });
      }
      this.options.observer?.queuesStarted?.([...this.definitions.keys()]);
      const pollingMs = this.options.pollingIntervalMs ?? 5_000;
      for (const definition of this.definitions.values()) {
        const runner = new QueueRunner(
          this.store(),
          definition,
          this.options.logger,
          pollingMs,
          this.options.observer,
        );
        this.runners.set(definition.name, runner);
        runner.start();
      }
      await this.wakeups.start((queue) => {
        if (queue === null) for (const runner of this.runners.values()) runner.wake();
        else this.runners.get(queue)?.wake();
      });
    }
    this.state = 'started';
  }

  /** Enqueues a job; resolves to its id, or null when `id`/singleton rules deduplicated it. */
  async send<T>(job: JobRef<T>, data: T, options: SendOptions = {}): Promise<string | null> {
    const name = this.validated(job, data);
    const id = await this.boss.send(name, data as object, toBossOptions(options));
    if (id) await this.notify(name);
    return id;
  }

  /**
   * Enqueues a job inside the caller's drizzle transaction: it exists if and only if
   * the transaction commits, and its workers are woken at the commit. The insert runs
   * as the session's own role (pg-boss's tables are not the application roles'), and
   * the transaction's role is restored after it.
   */
  async sendInTransaction<T>(
    tx: Tx,
    job: JobRef<T>,
    data: T,
    options: SendOptions = {},
  ): Promise<string | null> {
    const name = this.validated(job, data);
    const db = transactionBossDb(tx);
    // Three statements, since each is a round trip: switch role (remembering the old
    // one; the select list is evaluated in order), insert, restore role and notify.
    const { rows } = await db.executeSql(
      `select current_setting('role') as role, set_config('role', 'none', true) as switched`,
    );
    const role = String(rows[0]?.role ?? 'none');
    const id = await this.boss.send(name, data as object, { ...toBossOptions(options), db });
    await db.executeSql(`select set_config('role', $1, true), pg_notify($2, $3)`, [role, JOBS_CHANNEL, name]);
    return id;
  }

  /**
   * Sends the job on a cron schedule (UTC, minute resolution), once per slot across
   * every berth process. Scheduling the same job again replaces its schedule.
   */
  async schedule<T>(job: JobRef<T>, cron: string, data: T, options: SendOptions = {}): Promise<void> {
    const name = this.validated(job, data);
    await this.boss.schedule(name, cron, data as object, { ...toBossOptions(options), tz: 'UTC' });
  }

  async unschedule(job: JobRef<unknown>): Promise<void> {
    await this.boss.unschedule(typeof job === 'string' ? job : job.name);
  }

  /** The dead-letter list: jobs that failed their last retry, newest first. */
  failed(options: { queue?: string; limit?: number } = {}): Promise<JobSummary[]> {
    return listFailedJobs(this.db, QUEUE_SCHEMA, options);
  }

  /**
   * Jobs waiting (created, retry), running (active) and dead-lettered (failed), per
   * queue; every queue defined here reports every state, so an empty one reads 0.
   */
  async counts(): Promise<{ queue: string; state: JobState; count: number }[]> {
    const found = await countJobs(this.db, QUEUE_SCHEMA);
    const key = (queue: string, state: string) => `${queue}\u0000${state}`;
    const counted = new Set(found.map((row) => key(row.queue, row.state)));
    const empty = [...this.definitions.keys()].flatMap((queue) =>
      COUNTED_STATES.filter((state) => !counted.has(key(queue, state))).map((state) => ({
        queue,
        state,
        count: 0,
      })),
    );
    return [...found, ...empty];
  }

  getJob(id: string): Promise<JobSummary | null> {
    return findJob(this.db, QUEUE_SCHEMA, id);
  }

  /** Gives a failed job one more run, at once. */
  async retry(id: string): Promise<JobSummary> {
    const job = await findJob(this.db, QUEUE_SCHEMA, id);
    if (!job) throw new NotFoundError(`Job ${id}`);
    if (job.state !== 'failed')
      throw new ConflictError(`Job ${id} is ${job.state}; only failed jobs can be retried.`);
    await this.boss.retry(job.queue, id);
    await this.notify(job.queue);
    return (await findJob(this.db, QUEUE_SCHEMA, id)) ?? job;
  }

  /**
   * Stops fetching, lets running jobs finish (up to the shutdown timeout), hands back
   * the rest for another process, then stops pg-boss and closes the queue's connections.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasStarted = this.state !== 'new';
    this.state = 'closed';
    const timeout = this.options.shutdownTimeoutMs ?? 10_000;
    await Promise.all([...this.runners.values()].map((runner) => runner.stop(timeout)));
    await this.wakeups.close();
    if (wasStarted) await this.boss.stop({ graceful: true, wait: true, timeout: 1_000, close: false });
    await this.db.drain();
    await this.db.close();
  }

  private validated(job: JobRef<unknown>, data: unknown): string {
    if (this.state !== 'started')
      throw new Error(`the job queue is ${this.state}: start it before sending jobs`);
    const name = typeof job === 'string' ? job : job.name;
    const definition = this.definitions.get(name);
    if (!definition) throw new Error(`job "${name}" is not defined on this queue`);
    const parsed = definition.schema.safeParse(data);
    if (!parsed.success) {
      throw new InvalidInputError(
        `Invalid data for job ${name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
      );
    }
    return name;
  }

  private async notify(name: string): Promise<void> {
    // The job is stored either way; a lost wakeup only costs the polling interval.
    await this.db.executeSql(NOTIFY_SQL, [name]).catch((error: unknown) => {
      this.options.logger.debug({ err: error, queue: name }, 'job wakeup not sent');
    });
  }

  private async ensureQueue(definition: AnyDefinition): Promise<void> {
    const settings = {
      name: definition.name,
      policy: definition.policy,
      retryLimit: definition.retryLimit,
      retryDelay: definition.retryDelaySeconds,
      retryBackoff: definition.retryBackoff,
      expireInSeconds: definition.expireInSeconds,
      retentionMinutes: definition.retentionDays * 24 * 60,
    };
    // On PostgreSQL the executor serialises queue creation across processes (boss-db.ts).
    await this.boss.createQueue(definition.name, settings);
    // A queue created by an older berth takes the current retry policy (its jobs keep theirs).
    await this.boss.updateQueue(definition.name, settings);
  }

  private store(): RunnerStore {
    return {
      fetch: (name, batchSize) => this.boss.fetch(name, { batchSize, includeMetadata: true }),
      complete: async (name, id, output) => {
        await this.boss.complete(name, id, output);
      },
      fail: async (name, id, output) => {
        await this.boss.fail(name, id, output);
      },
      release: async (name, ids) => {
        await this.db.executeSql(
          `update ${QUEUE_SCHEMA}.job set state = 'created', started_on = null
           where name = $1 and id = any($2::uuid[]) and state = 'active'`,
          [name, ids],
        );
        await this.notify(name);
      },
    };
  }
}

function toBossOptions(options: SendOptions): PgBoss.SendOptions {
  const { startAfter, ...rest } = options;
  return startAfter === undefined ? rest : { ...rest, startAfter };
}
