/**
 * The `reconcile-environments` job: the environment reconciler (see
 * services/environments/reconciler.ts) on the durable queue, so that with several berth
 * processes it runs once per slot across all of them (a singleton queue on a cron
 * schedule) rather than once per process, and a run that dies with its process is
 * simply the next slot's work. Each berth also sends one at start.
 */
import { z } from 'zod';
import { defineJob } from './definition.ts';

export const RECONCILE_ENVIRONMENTS_JOB = 'reconcile-environments';

export interface Reconciles {
  reconcile(): Promise<unknown>;
}

/** Cron for "every `intervalMs`", at the schedule's minute resolution (1 to 60 minutes). */
export function reconcileCron(intervalMs: number): string {
  const minutes = Math.min(60, Math.max(1, Math.round(intervalMs / 60_000)));
  return minutes === 60 ? '0 * * * *' : `*/${minutes} * * * *`;
}

export function reconcileEnvironmentsJob(reconciler: Reconciles, intervalMs: number) {
  return defineJob<Record<string, never>>({
    name: RECONCILE_ENVIRONMENTS_JOB,
    schema: z.object({}).strict() as unknown as z.ZodType<Record<string, never>>,
    policy: 'singleton',
    concurrency: 1,
    // The next slot is the retry: a failed run is logged and the schedule comes round.
    retryLimit: 0,
    expireInSeconds: 900,
    schedule: { cron: reconcileCron(intervalMs), data: {} },
    handler: () => reconciler.reconcile(),
  });
}
