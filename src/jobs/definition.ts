/**
 * What a background job is, as berth declares it: a name, a zod schema for its data,
 * a handler, and how it is retried. Declaring the schema beside the handler means a job
 * is validated where it is sent (a bad payload fails the caller, not a worker minutes
 * later) and again where it runs (a row written by an older berth still has to fit).
 *
 * Handlers must be idempotent: a job whose worker died mid-run, or whose handler outlived
 * its expiry, runs again, possibly on another berth process.
 */
import type { z } from 'zod';

/** What a handler knows about the run it is in. */
export interface JobContext {
  id: string;
  name: string;
  /** 1 for the first run, 2 for the first retry, … */
  attempt: number;
  /** Retries allowed after the first run (an operator's retry adds one). */
  retryLimit: number;
  /** True when a failure now puts the job into the dead-letter (failed) state. */
  isFinalAttempt: boolean;
  /** Aborted when the run expires or berth shuts down; long handlers should heed it. */
  signal: AbortSignal;
}

export type QueuePolicy = 'standard' | 'short' | 'singleton' | 'stately';

export interface JobDefinition<T = unknown> {
  /** Lower-case letters, digits and dashes; also the pg-boss queue name. */
  name: string;
  schema: z.ZodType<T>;
  /** Whatever it returns (a plain object) is kept as the job's output. */
  handler(data: T, job: JobContext): Promise<unknown>;
  /** Retries after the first run before the job lands in the failed state. Default 5. */
  retryLimit?: number;
  /** First retry delay; doubled (with jitter) per retry when `retryBackoff`. Default 5 s. */
  retryDelaySeconds?: number;
  /** Default true. */
  retryBackoff?: boolean;
  /** A run longer than this is abandoned and retried. Default 300 s. */
  expireInSeconds?: number;
  /** Jobs of this kind one berth process runs at once. Default 4. */
  concurrency?: number;
  /**
   * pg-boss's queue policy: `singleton` runs one job at a time across every process,
   * `stately` also keeps at most one waiting; `short` keeps one waiting. Default standard.
   */
  policy?: QueuePolicy;
  /** How long a job may wait before it is given up (pg-boss retention). Default 14 days. */
  retentionDays?: number;
  /**
   * Also send the job on this cron (UTC, minute resolution, e.g. `*\/5 * * * *`), once
   * per slot across every berth process. Set when a worker queue starts.
   */
  schedule?: { cron: string; data: T };
}

/** A definition with every default filled in. */
export type ResolvedJobDefinition<T = unknown> = Required<Omit<JobDefinition<T>, 'schedule'>> &
  Pick<JobDefinition<T>, 'schedule'>;

export const JOB_DEFAULTS = {
  retryLimit: 5,
  retryDelaySeconds: 5,
  retryBackoff: true,
  expireInSeconds: 300,
  concurrency: 4,
  policy: 'standard',
  retentionDays: 14,
} as const satisfies Partial<JobDefinition>;

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** Checks a definition once, where it is written, and fills in the defaults. */
export function defineJob<T>(definition: JobDefinition<T>): ResolvedJobDefinition<T> {
  if (!NAME.test(definition.name)) {
    throw new TypeError(`job name "${definition.name}" must be lower-case letters, digits and dashes`);
  }
  const resolved = { ...JOB_DEFAULTS, ...definition };
  const positive = ['expireInSeconds', 'concurrency', 'retentionDays'] as const;
  for (const key of positive) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) {
      throw new TypeError(`job "${definition.name}": ${key} must be a whole number ≥ 1`);
    }
  }
  for (const key of ['retryLimit', 'retryDelaySeconds'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 0) {
      throw new TypeError(`job "${definition.name}": ${key} must be a whole number ≥ 0`);
    }
  }
  return resolved;
}
