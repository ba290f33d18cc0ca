import { describe, expect, it } from 'vitest';
import { reconcileCron, reconcileEnvironmentsJob } from './reconcile-environments.ts';

describe('the reconcile-environments job', () => {
  it('turns the interval into a cron at minute resolution', () => {
    expect(reconcileCron(300_000)).toBe('*/5 * * * *');
    expect(reconcileCron(1000)).toBe('*/1 * * * *');
    expect(reconcileCron(3_600_000)).toBe('0 * * * *');
    expect(reconcileCron(86_400_000)).toBe('0 * * * *');
  });

  it('runs the reconciler once across processes and leaves retries to the schedule', async () => {
    let runs = 0;
    const job = reconcileEnvironmentsJob({ reconcile: async () => ++runs }, 300_000);
    expect(job).toMatchObject({ name: 'reconcile-environments', policy: 'singleton', retryLimit: 0 });
    expect(job.schedule?.cron).toBe('*/5 * * * *');
    await job.handler({}, {} as never);
    expect(runs).toBe(1);
  });
});
