/**
 * Helpers for the queue tests: a queue wired to a test database with short intervals,
 * so that retries and expiry happen within a test's time.
 */
import type { EngineClient } from '../../src/db/engine.ts';
import { JobQueue, type JobQueueOptions } from '../../src/jobs/queue.ts';
import { createLogger } from '../../src/observability/logger.ts';

export const silent = createLogger({ level: 'silent' });

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
