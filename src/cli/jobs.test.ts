import { describe, expect, it } from 'vitest';
import type { Config } from '../config/config.ts';
import { ConflictError } from '../domain/errors.ts';
import type { JobSummary } from '../jobs/inspect.ts';
import { formatFailedJobs, jobsCommand, type OpenedQueue } from './jobs.ts';

const failedJob: JobSummary = {
  id: '6f1c1d2e-0000-4000-8000-000000000001',
  queue: 'onboard-user',
  state: 'failed',
  data: { userId: '0b7a3c1e-0000-4000-8000-00000000000a' },
  attempts: 6,
  error: 'DigitalOcean was busy\nor unreachable',
  createdAt: new Date('2025-01-01T10:00:00Z'),
  finishedAt: new Date('2025-01-01T10:15:00.123Z'),
};

/** Runs `berth jobs …` against a stand-in queue and returns what it printed. */
async function run(args: string[], queue: Partial<OpenedQueue['queue']>) {
  let printed = '';
  let closed = false;
  const command = jobsCommand(
    () => ({}) as Config,
    async () => ({
      queue: queue as OpenedQueue['queue'],
      close: async () => {
        closed = true;
      },
    }),
    (text) => {
      printed += text;
    },
  );
  command.exitOverride();
  try {
    await command.parseAsync(args, { from: 'user' });
  } finally {
    expect(closed).toBe(true);
  }
  return printed;
}

describe('berth jobs', () => {
  it('lists failed jobs as a table with the reason on one line', () => {
    const table = formatFailedJobs([failedJob]);
    const [header, row, footer] = table.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+QUEUE\s+FAILED AT\s+ATTEMPTS\s+DATA\s+ERROR$/);
    expect(row).toContain('onboard-user');
    expect(row).toContain('2025-01-01T10:15:00Z');
    expect(row).toMatch(/DigitalOcean was busy or unreachable$/);
    expect(footer).toBe('1 failed job(s); retry one with: berth jobs retry ID');
  });

  it('says so when nothing failed', () => {
    expect(formatFailedJobs([])).toBe('no failed jobs\n');
  });

  it('passes the queue filter and limit, and prints JSON when asked', async () => {
    const asked: unknown[] = [];
    const printed = await run(['failed', '--queue', 'onboard-user', '--limit', '5', '--json'], {
      failed: async (options) => {
        asked.push(options);
        return [failedJob];
      },
    });
    expect(asked).toEqual([{ queue: 'onboard-user', limit: 5 }]);
    expect(JSON.parse(printed)[0]).toMatchObject({ id: failedJob.id, attempts: 6 });
  });

  it('retries a job by id and reports its new state', async () => {
    const printed = await run(['retry', failedJob.id], {
      retry: async (id) => ({ ...failedJob, id, state: 'retry' }),
    });
    expect(printed).toBe(`job ${failedJob.id} (onboard-user) is queued again: retry\n`);
  });

  it('lets the error of a job that cannot be retried reach the user', async () => {
    await expect(
      run(['retry', failedJob.id], {
        retry: async () => {
          throw new ConflictError('Job is active; only failed jobs can be retried.');
        },
      }),
    ).rejects.toBeInstanceOf(ConflictError);
  });
});
