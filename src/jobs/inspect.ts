/**
 * Reading pg-boss's job table for operators: the dead-letter list (jobs that failed
 * their last retry) and single jobs by id. Failed jobs stay in the job table, where
 * pg-boss can retry them, for the queue's failed-job retention (14 days by default);
 * the queries are plain SQL on pg-boss's documented columns.
 */
import type { BossDb } from './boss-db.ts';

export type JobState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed';

export interface JobSummary {
  id: string;
  queue: string;
  state: JobState;
  data: unknown;
  /** Runs so far (a job that failed its first run and two retries has 3). */
  attempts: number;
  /** The last failure's message, when there was one. */
  error: string | null;
  createdAt: Date;
  /** When it completed or failed for good; null while it may still run. */
  finishedAt: Date | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const COLUMNS = 'id, name, state, data, retry_count, started_on, output, created_on, completed_on';

export async function listFailedJobs(
  db: BossDb,
  schema: string,
  options: { queue?: string; limit?: number } = {},
): Promise<JobSummary[]> {
  const limit = Math.min(Math.max(options.limit ?? 100, 1), 10_000);
  const { rows } = options.queue
    ? await db.executeSql(
        `select ${COLUMNS} from ${schema}.job where state = 'failed' and name = $1 order by completed_on desc, id limit $2`,
        [options.queue, limit],
      )
    : await db.executeSql(
        `select ${COLUMNS} from ${schema}.job where state = 'failed' order by completed_on desc, id limit $1`,
        [limit],
      );
  return rows.map(toSummary);
}

export async function findJob(db: BossDb, schema: string, id: string): Promise<JobSummary | null> {
  if (!UUID.test(id)) return null;
  const { rows } = await db.executeSql(`select ${COLUMNS} from ${schema}.job where id = $1`, [id]);
  return rows[0] ? toSummary(rows[0]) : null;
}

function toSummary(row: Record<string, unknown>): JobSummary {
  const state = row.state as JobState;
  // A completed job's output is its handler's result; only a failure's is an error.
  const output =
    state === 'failed' || state === 'retry' ? (row.output as { message?: unknown } | null) : null;
  const started = row.started_on !== null && row.started_on !== undefined;
  return {
    id: String(row.id),
    queue: String(row.name),
    state,
    data: row.data,
    attempts: started ? Number(row.retry_count) + 1 : Number(row.retry_count),
    error: output && typeof output.message === 'string' ? output.message : null,
    createdAt: new Date(row.created_on as string | Date),
    finishedAt: row.completed_on ? new Date(row.completed_on as string | Date) : null,
  };
}

/** The states the queue depth is reported in: waiting, running and dead-lettered. */
export const COUNTED_STATES = ['created', 'retry', 'active', 'failed'] as const satisfies JobState[];

/** Jobs waiting, running and dead-lettered, per queue and state: the queue depth for metrics. */
export async function countJobs(
  db: BossDb,
  schema: string,
): Promise<{ queue: string; state: JobState; count: number }[]> {
  const { rows } = await db.executeSql(
    `select name, state::text as state, count(*)::int as n from ${schema}.job
     where state in ('created', 'retry', 'active', 'failed') group by name, state`,
  );
  return rows.map((row) => ({ queue: String(row.name), state: row.state as JobState, count: Number(row.n) }));
}
