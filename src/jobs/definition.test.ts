import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob, JOB_DEFAULTS } from './definition.ts';

const base = { schema: z.object({}), handler: async () => undefined };

describe('defineJob', () => {
  it('fills in the retry, expiry and concurrency defaults', () => {
    const job = defineJob({ name: 'send-mail', ...base });
    expect(job).toMatchObject(JOB_DEFAULTS);
  });

  it('keeps what the definition sets', () => {
    const job = defineJob({ name: 'reconcile', ...base, retryLimit: 0, concurrency: 1, policy: 'singleton' });
    expect(job).toMatchObject({ retryLimit: 0, concurrency: 1, policy: 'singleton', retryBackoff: true });
  });

  it('rejects a name pg-boss or an operator would trip over', () => {
    expect(() => defineJob({ name: 'Onboard User', ...base })).toThrow(/lower-case/);
    expect(() => defineJob({ name: '', ...base })).toThrow(/lower-case/);
  });

  it('rejects a concurrency or expiry below one', () => {
    expect(() => defineJob({ name: 'x', ...base, concurrency: 0 })).toThrow(/concurrency/);
    expect(() => defineJob({ name: 'x', ...base, expireInSeconds: 0.5 })).toThrow(/expireInSeconds/);
    expect(() => defineJob({ name: 'x', ...base, retryLimit: -1 })).toThrow(/retryLimit/);
  });
});
