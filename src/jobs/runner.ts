/**
 * Runs one queue's jobs in this process: a single loop fetches as many jobs as there
 * are free slots (the definition's concurrency) and hands each to the handler. berth
 * runs this loop instead of pg-boss's `work()` for three reasons: a worker that just
 * finished a job looks for the next one at once instead of sleeping a polling interval
 * (pg-boss 10 sleeps after every batch); every completion and failure is awaited and its
 * error handled, rather than left as a floating promise; and shutdown can wait for the
 * running handlers, then hand back the ones that did not finish so another process
 * runs them.
 */
import type { Logger } from '../observability/logger.ts';
import type { JobContext, ResolvedJobDefinition } from './definition.ts';

/** A fetched job, as pg-boss returns it with its metadata. */
export interface FetchedJob {
  id: string;
  name: string;
  data: unknown;
  retryCount: number;
  retryLimit: number;
  /** pg-boss returns it as a numeric string. */
  expireInSeconds: number | string;
}

/** The queue storage a runner drives (pg-boss in berth, a fake in unit tests). */
export interface RunnerStore {
  fetch(name: string, batchSize: number): Promise<FetchedJob[]>;
  complete(name: string, id: string, output: object | undefined): Promise<void>;
  /** Counts as a failed attempt: retried with backoff, or failed for good. */
  fail(name: string, id: string, output: object): Promise<void>;
  /** Puts running jobs back as if never started (no attempt used up). */
  release(name: string, ids: string[]): Promise<void>;
}

/**
 * Told how each run of a job ended (metrics): `completed`, `failed` (it will be retried)
 * or `dead` (its last retry failed: it is in the dead-letter list).
 */
export interface JobObserver {
  /** The queues this process runs, once at start, so each can be counted from zero. */
  queuesStarted?(queues: string[]): void;
  jobFinished(queue: string, outcome: 'completed' | 'failed' | 'dead', seconds: number): void;
}

interface Running {
  done: Promise<void>;
  controller: AbortController;
  /** Set when the job was handed back; its handler's outcome is then ignored. */
  abandoned: boolean;
}

export class JobTimeoutError extends Error {
  constructor(name: string, seconds: number) {
    super(`job ${name} ran longer than its ${seconds} s expiry and was abandoned`);
    this.name = 'JobTimeoutError';
  }
}

/** What is stored as a failed job's output: enough to act on, never a stack of secrets. */
export function failureOutput(error: unknown): { message: string; name: string; code?: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { message: error.message, name: error.name, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { message: String(error), name: 'Error' };
}

export class QueueRunner {
  private stopping = false;
  private woken = false;
  private wakeUp: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly running = new Map<string, Running>();

  private readonly store: RunnerStore;
  private readonly definition: ResolvedJobDefinition<unknown>;
  private readonly logger: Logger;
  private readonly pollingMs: number;
  private readonly observer?: JobObserver;

  constructor(
    store: RunnerStore,
    definition: ResolvedJobDefinition<unknown>,
    logger: Logger,
    pollingMs: number,
    observer?: JobObserver,
  ) {
    this.store = store;
    this.definition = definition;
    this.logger = logger;
    this.pollingMs = pollingMs;
    this.observer = observer;
  }

  get name(): string {
    return this.definition.name;
  }

  start(): void {
    this.loopDone = this.loop();
  }

  /** Makes an idle loop fetch now (a job was sent, or a slot came free). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.woken = false;
      const free = this.definition.concurrency - this.running.size;
      if (free > 0) {
        const jobs = await this.store.fetch(this.name, free).catch((error: unknown) => {
          this.logger.warn({ err: error, queue: this.name }, 'fetching jobs failed');
          return [] as FetchedJob[];
        });
        for (const job of jobs) this.run(job);
        // A full batch means more may be waiting: fetch again as soon as a slot frees.
        if (jobs.length === free && !this.stopping) continue;
      }
      if (!this.woken && !this.stopping) await this.sleep();
    }
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.pollingMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }

  private run(job: FetchedJob): void {
    const controller = new AbortController();
    const expireSeconds = Number(job.expireInSeconds) || this.definition.expireInSeconds;
    const context: JobContext = {
      id: job.id,
      name: job.name,
      attempt: job.retryCount + 1,
      retryLimit: job.retryLimit,
      isFinalAttempt: job.retryCount >= job.retryLimit,
      signal: controller.signal,
    };
    const entry: Running = { done: Promise.resolve(), controller, abandoned: false };
    entry.done = this.execute(job.data, context, expireSeconds, entry).finally(() => {
      this.running.delete(job.id);
      this.wake();
    });
    this.running.set(job.id, entry);
  }

  private async execute(data: unknown, job: JobContext, expireSeconds: number, entry: Running) {
    // The run is given up a little before pg-boss's own expiry, so that this process,
    // not the maintenance sweep, decides, and never completes a run another took over.
    const limitMs = Math.max(500, expireSeconds * 1000 - Math.min(2_000, expireSeconds * 100));
    let timer: NodeJS.Timeout | undefined;
    const started = performance.now();
    let outcome: { ok: true; output: unknown } | { ok: false; error: unknown };
    try {
      const parsed = this.definition.schema.parse(data);
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new JobTimeoutError(job.name, expireSeconds);
          entry.controller.abort(error);
          reject(error);
        }, limitMs);
      });
      outcome = { ok: true, output: await Promise.race([this.definition.handler(parsed, job), expired]) };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      clearTimeout(timer);
    }
    if (entry.abandoned) return;
    const log = { queue: this.name, jobId: job.id, attempt: job.attempt, ms: ms(started) };
    const seconds = (performance.now() - started) / 1000;
    const result = outcome.ok ? 'completed' : job.isFinalAttempt ? 'dead' : 'failed';
    this.observer?.jobFinished(this.name, result, seconds);
    try {
      if (outcome.ok) {
        await this.store.complete(this.name, job.id, isObject(outcome.output) ? outcome.output : undefined);
        this.logger.debug(log, 'job done');
        return;
      }
      const failed = { ...log, err: outcome.error };
      if (job.isFinalAttempt)
        this.logger.error(failed, 'job failed for the last time; it is in the failed list');
      else this.logger.warn(failed, 'job failed; it will be retried');
      await this.store.fail(this.name, job.id, failureOutput(outcome.error));
    } catch (error) {
      // The job stays active until its expiry, then runs again: handlers are idempotent.
      this.logger.warn({ ...log, err: error }, 'could not record the outcome of a job');
    }
  }

  /**
   * Stops fetching, gives running handlers `timeoutMs` to finish, then hands the rest
   * back as if never started (a shutdown does not use up an attempt), so another
   * process runs them at once.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loopDone;
    const all = () => Promise.allSettled([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    const left = [...this.running.entries()];
    if (left.length === 0) return;
    for (const [, entry] of left) {
      entry.abandoned = true;
      entry.controller.abort(new Error('berth is shutting down'));
    }
    const ids = left.map(([id]) => id);
    this.logger.warn({ queue: this.name, jobs: ids }, 'handing back jobs still running at shutdown');
    await this.store
      .release(this.name, ids)
      .catch((error: unknown) =>
        this.logger.warn({ err: error, queue: this.name }, 'could not hand jobs back'),
      );
  }
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ms(since: number): number {
  return Math.round(performance.now() - since);
}
