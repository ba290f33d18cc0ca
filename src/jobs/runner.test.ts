/**
 * The job runner's loop, driven against an in-memory store: it fetches again at once while
 * work is waiting, sleeps the polling interval only when idle, wakes early when told, and
 * at shutdown hands back the jobs that did not finish.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../observability/logger.ts';
import { defineJob, type JobContext } from './definition.ts';
import { type FetchedJob, JobTimeoutError, QueueRunner, type RunnerStore } from './runner.ts';

const logger = createLogger({ level: 'silent' });

/** An in-memory queue that records what the runner did with each job. */
class FakeStore implements RunnerStore {
  waiting: FetchedJob[] = [];
  fetches = 0;
  completed: { id: string; output: object | undefined }[] = [];
  failed: { id: string; output: object }[] = [];
  released: string[] = [];

  add(id: string, data: unknown, extra: Partial<FetchedJob> = {}) {
    this.waiting.push({
      id,
      name: 'test',
      data,
      retryCount: 0,
      retryLimit: 2,
      expireInSeconds: 60,
      ...extra,
    });
  }
  async fetch(_name: string, batchSize: number) {
    this.fetches += 1;
    return this.waiting.splice(0, batchSize);
  }
  async complete(_name: string, id: string, output: object | undefined) {
    this.completed.push({ id, output });
  }
  async fail(_name: string, id: string, output: object) {
    this.failed.push({ id, output });
  }
  async release(_name: string, ids: string[]) {
    this.released.push(...ids);
  }
}

const runners: QueueRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop(100)));
});

function runner(
  store: RunnerStore,
  handler: (data: { n: number }, job: JobContext) => Promise<unknown>,
  extra = {},
) {
  const definition = defineJob({ name: 'test', schema: z.object({ n: z.number() }), handler, ...extra });
  const r = new QueueRunner(store, definition, logger, 60_000);
  runners.push(r);
  r.start();
  return r;
}

describe('QueueRunner', () => {
  it('works through a backlog without waiting a polling interval between jobs', async () => {
    const store = new FakeStore();
    for (let i = 0; i < 20; i++) store.add(`j${i}`, { n: i });
    const seen: number[] = [];
    runner(store, async ({ n }) => {
      seen.push(n);
      return { doubled: n * 2 };
    });
    // The polling interval is a minute: only fetching again at once can finish in time.
    await vi.waitFor(() => expect(store.completed.length).toBe(20), { timeout: 10_000 });
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    expect(store.completed.find((c) => c.id === 'j3')?.output).toEqual({ doubled: 6 });
  });

  it('never runs more jobs at once than its concurrency', async () => {
    const store = new FakeStore();
    for (let i = 0; i < 12; i++) store.add(`j${i}`, { n: i });
    let active = 0;
    let peak = 0;
    runner(
      store,
      async () => {
        active += 1;
        peak = Math.max(peak, active);
        await sleep(10);
        active -= 1;
      },
      { concurrency: 3 },
    );
    await vi.waitFor(() => expect(store.completed.length).toBe(12), { timeout: 10_000 });
    expect(peak).toBe(3);
  });

  it('picks up a job sent while idle when woken', async () => {
    const store = new FakeStore();
    const r = runner(store, async () => undefined);
    await vi.waitFor(() => expect(store.fetches).toBeGreaterThanOrEqual(1), { timeout: 10_000 });
    // The first fetch found nothing; after a pause the loop must be asleep, not fetching again.
    await sleep(50);
    expect(store.fetches).toBe(1);
    store.add('late', { n: 1 });
    await sleep(50);
    // Unwoken, the job waits for the one-minute poll; so it is the wake that fetches it.
    expect(store.completed).toHaveLength(0);
    r.wake();
    // The default deadline is still far short of that poll, so only the wake can meet it;
    // a tighter one proves nothing more and fails when a loaded machine stalls the loop.
    await vi.waitFor(() => expect(store.completed.length).toBe(1), { timeout: 10_000 });
    expect(store.completed).toEqual([{ id: 'late', output: undefined }]);
  });

  it('does not miss a wake that arrives while it is fetching', async () => {
    const store = new FakeStore();
    // The first fetch is held open, so the job is sent and the wake given while it is out.
    let answer: (jobs: FetchedJob[]) => void = () => {};
    const fetch = store.fetch.bind(store);
    store.fetch = (name, batchSize) => {
      if (store.fetches > 0) return fetch(name, batchSize);
      store.fetches += 1;
      return new Promise((resolve) => (answer = resolve));
    };
    const r = runner(store, async () => undefined);
    await vi.waitFor(() => expect(store.fetches).toBe(1), { timeout: 10_000 });
    store.add('during', { n: 1 });
    r.wake();
    answer([]);
    // That fetch found nothing, but the wake still counts: the loop fetches again, not sleeps.
    // Sleeping would take the one-minute poll, far past the default deadline.
    await vi.waitFor(() => expect(store.completed.length).toBe(1), { timeout: 10_000 });
    expect(store.completed).toEqual([{ id: 'during', output: undefined }]);
  });

  it('fails a job whose data does not fit the schema, with the reason', async () => {
    const store = new FakeStore();
    store.add('bad', { n: 'not a number' });
    runner(store, async () => undefined);
    await vi.waitFor(() => expect(store.failed.length).toBe(1), { timeout: 10_000 });
    expect(store.failed[0]).toMatchObject({ id: 'bad', output: { name: 'ZodError' } });
  });

  it('abandons a run that outlives its expiry and aborts its signal', async () => {
    const store = new FakeStore();
    store.add('slow', { n: 1 }, { expireInSeconds: 1 });
    let aborted: unknown = null;
    runner(
      store,
      (_data, job) =>
        new Promise((resolve) =>
          job.signal.addEventListener('abort', () => {
            aborted = job.signal.reason;
            setTimeout(resolve, 50);
          }),
        ),
    );
    await vi.waitFor(() => expect(store.failed.length).toBe(1), { timeout: 10_000 });
    expect(aborted).toBeInstanceOf(JobTimeoutError);
    expect(store.failed[0]?.output).toMatchObject({ name: 'JobTimeoutError' });
    expect(store.completed).toHaveLength(0);
  });

  it('tells the handler when a failure would be the last one', async () => {
    const store = new FakeStore();
    store.add('first', { n: 1 }, { retryCount: 0, retryLimit: 1 });
    store.add('last', { n: 2 }, { retryCount: 1, retryLimit: 1 });
    const finals: Record<number, [number, boolean]> = {};
    runner(store, async ({ n }, job) => {
      finals[n] = [job.attempt, job.isFinalAttempt];
    });
    await vi.waitFor(() => expect(store.completed.length).toBe(2), { timeout: 10_000 });
    expect(finals).toEqual({ 1: [1, false], 2: [2, true] });
  });

  it('hands back, at stop, the jobs that did not finish in time, and ignores their outcome', async () => {
    const store = new FakeStore();
    store.add('quick', { n: 1 });
    store.add('stuck', { n: 2 });
    let release: () => void = () => {};
    const r = runner(store, async ({ n }) => {
      if (n === 2) await new Promise<void>((resolve) => (release = resolve));
    });
    await vi.waitFor(() => expect(store.completed.length).toBe(1), { timeout: 10_000 });
    await r.stop(50);
    expect(store.released).toEqual(['stuck']);
    release();
    await sleep(20);
    expect(store.completed.map((c) => c.id)).toEqual(['quick']);
    expect(store.failed).toHaveLength(0);
  });
});
