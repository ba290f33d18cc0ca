/**
 * `berth jobs`: the operator's view of the background job queue's dead-letter list.
 * `failed` lists the jobs that failed their last retry (newest first) with the reason;
 * `retry ID` gives one of them another run at once. Both work while berth is running
 * on PostgreSQL; on the embedded database stop berth first (it holds the directory).
 */
import { Command } from 'commander';
import type { Config } from '../config/config.ts';
import { madePrivateMessage } from '../db/data-dir.ts';
import { openDatabase } from '../db/engine.ts';
import type { JobSummary } from '../jobs/inspect.ts';
import { JobQueue } from '../jobs/queue.ts';
import { createLogger } from '../observability/logger.ts';

/** The part of the queue the commands use, and how to let it go. */
export interface OpenedQueue {
  queue: Pick<JobQueue, 'failed' | 'retry'>;
  close(): Promise<void>;
}

export type QueueOpener = (config: Config) => Promise<OpenedQueue>;

async function openQueue(config: Config): Promise<OpenedQueue> {
  const database = await openDatabase(
    config.databaseUrl
      ? { kind: 'postgres', url: config.databaseUrl, poolSize: 1 }
      : { kind: 'pglite', dataDir: config.dataDir },
  );
  if (database.madePrivate) process.stderr.write(`berth: ${madePrivateMessage(database.madePrivate)}\n`);
  const queue = new JobQueue({
    engine: database.engine,
    logger: createLogger({ level: 'warn' }),
    role: 'client',
    poolSize: 1,
  });
  try {
    await queue.start();
  } catch (error) {
    await database.close();
    throw error;
  }
  return {
    queue,
    async close() {
      await queue.close();
      await database.close();
    },
  };
}

export function jobsCommand(
  loadConfig: () => Config,
  open: QueueOpener = openQueue,
  out: (text: string) => void = (text) => process.stdout.write(text),
): Command {
  const jobs = new Command('jobs').description('Inspect and retry background jobs that failed for good.');
  const withQueue = async (fn: (queue: OpenedQueue['queue']) => Promise<void>) => {
    const opened = await open(loadConfig());
    try {
      await fn(opened.queue);
    } finally {
      await opened.close();
    }
  };
  jobs
    .command('failed')
    .description('List jobs that failed their last retry (the dead-letter list), newest first.')
    .option('--queue <name>', 'only this job kind, e.g. onboard-user')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print JSON (one array) instead of a table')
    .action(async (options: { queue?: string; limit: string; json?: boolean }) => {
      const limit = Number.parseInt(options.limit, 10);
      if (!Number.isInteger(limit) || limit < 1) throw new Error('--limit must be a whole number ≥ 1');
      await withQueue(async (queue) => {
        const failed = await queue.failed({ ...(options.queue ? { queue: options.queue } : {}), limit });
        out(options.json ? `${JSON.stringify(failed, null, 2)}\n` : formatFailedJobs(failed));
      });
    });
  jobs
    .command('retry')
    .description('Give a failed job one more run, at once (it keeps its id and history).')
    .argument('<id>', 'the job id, as `berth jobs failed` shows it')
    .action(async (id: string) => {
      await withQueue(async (queue) => {
        const job = await queue.retry(id);
        out(`job ${job.id} (${job.queue}) is queued again: ${job.state}\n`);
      });
    });
  return jobs;
}

/** A plain table for a terminal: one job per line, the reason last so it can run long. */
export function formatFailedJobs(jobs: JobSummary[]): string {
  if (jobs.length === 0) return 'no failed jobs\n';
  const rows = jobs.map((job) => [
    job.id,
    job.queue,
    job.finishedAt ? job.finishedAt.toISOString().replace(/\.\d+Z$/, 'Z') : '-',
    String(job.attempts),
    summarise(job.data),
    oneLine(job.error ?? '-'),
  ]);
  const header = ['ID', 'QUEUE', 'FAILED AT', 'ATTEMPTS', 'DATA', 'ERROR'];
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.slice(0).map((r) => (i < 5 ? r[i]!.length : 0))),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i < cells.length - 1 ? cell.padEnd(widths[i]!) : cell))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n${jobs.length} failed job(s); retry one with: berth jobs retry ID\n`;
}

function summarise(data: unknown): string {
  const text = JSON.stringify(data) ?? '-';
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
