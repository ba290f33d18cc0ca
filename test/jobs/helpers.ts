/**
 * Helpers for the queue tests: waiting for a condition without fixed sleeps, and a
 * queue wired to a test database with short intervals so retries and expiry happen
 * within a test's time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EngineClient } from '../../src/db/engine.ts';
import { JobQueue, type JobQueueOptions } from '../../src/jobs/queue.ts';
import { createLogger } from '../../src/observability/logger.ts';

export const silent = createLogger({ level: 'silent' });

export async function waitFor<T>(
  check: () => T | Promise<T>,
  ms = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > end) throw new Error(`${what} not reached within ${ms} ms`);
    await sleep(20);
  }
}

export function testQueue(engine: EngineClient, options: Partial<JobQueueOptions> = {}): JobQueue {
  return new JobQueue({
    engine,
    logger: silent,
    pollingIntervalMs: 500,
    maintenanceIntervalSeconds: 1,
    shutdownTimeoutMs: 1_000,
    poolSize: 3,
    ...options,
  });
}
