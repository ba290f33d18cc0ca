/**
 * Waiting in tests for something that happens on its own time (a job run, a droplet
 * booting, a cache invalidation) without fixed sleeps: Vitest's `vi.waitFor`, retried
 * until the check gives a value, with a deadline generous enough for a loaded machine.
 */
import { vi } from 'vitest';

/** Resolves with the first truthy value `check` gives; fails after `timeoutMs`. */
export function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<NonNullable<Exclude<T, false | '' | 0>>> {
  return vi.waitFor(
    async () => {
      const value = await check();
      if (!value) throw new Error(`${what} not reached within ${timeoutMs} ms`);
      return value as NonNullable<Exclude<T, false | '' | 0>>;
    },
    { timeout: timeoutMs, interval: 50 },
  );
}
