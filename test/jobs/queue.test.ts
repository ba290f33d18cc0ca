import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import PgBoss from 'pg-boss';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConflictError, InvalidInputError, NotFoundError } from '../../src/domain/errors.ts';
import { type OwnedBossDb, pgliteBossDb, postgresBossDb } from '../../src/jobs/boss-db.ts';
import { defineJob } from '../../src/jobs/definition.ts';
import { type JobQueue, QUEUE_SCHEMA } from '../../src/jobs/queue.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { eventually } from '../support/eventually.ts';
import { testQueue } from './helpers.ts';

const data = z.object({ n: z.number() });
let counter = 0;
const uniqueName = () => `test-${++counter}-${randomUUID().slice(0, 8)}`;

describe.each(testEngines())('job queue on %s', (engine: EngineName) => {
  let t: TestDatabase;
  const open: JobQueue[] = [];
  const raw: { boss: PgBoss; db: OwnedBossDb }[] = [];

  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((q) => q.close()));
    for (const { boss, db } of raw.splice(0)) {
      await boss.stop({ graceful: false, close: false, wait: true });
      await db.close();
    }
  });
  afterAll(() => t.close());

  const queue = (options = {}) => {
    const q = testQueue(t.engine, options);
    open.push(q);
    return q;
  };
  /** pg-boss on its own, without berth's runner or wakeups: another process, or a dead one. */
  const rawBoss = async () => {
    const db = t.engine.kind === 'postgres' ? postgresBossDb(t.engine.url, 2) : pgliteBossDb(t.engine.pglite);
    const boss = new PgBoss({ db, schema: QUEUE_SCHEMA, supervise: false, schedule: false });
    await boss.start();
    raw.push({ boss, db });
    return boss;
  };

  it('runs a sent job once and keeps its output', async () => {
    const seen: number[] = [];
    const job = defineJob({
      name: uniqueName(),
      schema: data,
      handler: async ({ n }) => {
        seen.push(n);
        return { squared: n * n };
      },
    });
    const q = queue().define(job);
    await q.start();
    const id = await q.send(job, { n: 7 });
    const done = await eventually(
      async () => (await q.getJob(id!))?.state === 'completed',
      10_000,
      'completion',
    );
    expect(done).toBe(true);
    expect(seen).toEqual([7]);
  });

  it('wakes an idle worker through LISTEN/NOTIFY long before the polling interval', async () => {
    let receivedAt = 0;
    const job = defineJob({
      name: uniqueName(),
      schema: data,
      handler: async () => {
        receivedAt = performance.now();
      },
    });
    const q = queue({ pollingIntervalMs: 60_000 }).define(job);
    await q.start();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the first poll has come and gone
    const sentAt = performance.now();
    await q.send(job, { n: 1 });
    await eventually(() => receivedAt > 0, 5_000, 'delivery');
    const latency = receivedAt - sentAt;
    console.log(`[${engine}] send → handler: ${latency.toFixed(1)} ms (polling interval 60 s)`);
    expect(latency).toBeLessThan(1_000);
  });

  it('finds a job that came without a notification by polling', async () => {
    let ran = false;
    const job = defineJob({
      name: uniqueName(),
      schema: data,
      handler: async () => {
        ran = true;
      },
    });
    const q = queue({ pollingIntervalMs: 500 }).define(job);
    await q.start();
    await (await rawBoss()).send(job.name, { n: 1 });
    await eventually(() => ran, 5_000, 'the polled job');
    expect(ran).toBe(true);
  });

  it('retries with growing delays, then lists the job as failed with its reason', async () => {
    const runs: number[] = [];
    const job = defineJob({
      name: uniqueName(),
      schema: data,
      retryLimit: 2,
      retryDelaySeconds: 1,
      handler: async () => {
        runs.push(Date.now());
        throw new Error('DigitalOcean is down');
      },
    });
    const q = queue({ pollingIntervalMs: 200 }).define(job);
    await q.start();
    const id = await q.send(job, { n: 1 });
    const failed = await eventually(
      async () => (await q.failed({ queue: job.name })).find((f) => f.id === id),
      20_000,
    );
    expect(failed).toMatchObject({
      id,
      queue: job.name,
      state: 'failed',
      attempts: 3,
      error: 'DigitalOcean is down',
    });
    expect(failed?.data).toEqual({ n: 1 });
    expect(runs).toHaveLength(3);
    // Backoff: each retry waits at least the base delay (1 s), the second longer than the first's minimum.
    expect(runs[1]! - runs[0]!).toBeGreaterThanOrEqual(900);
    expect(runs[2]! - runs[1]!).toBeGreaterThanOrEqual(1_900);
  });

  it("gives a failed job another run on an operator's request", async () => {
    let healthy = false;
    const job = defineJob({
      name: uniqueName(),
      schema: data,
      retryLimit: 0,
      handler: async () => {
        if (!healthy) throw new Error('not yet');
        return { ok: true };
      },
    });
    const q = queue().define(job);
    await q.start();
    const id = (await q.send(job, { n: 1 }))!;
    await eventually(async () => (await q.getJob(id))?.state === 'failed', 10_000, 'failure');
    await expect(q.retry(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
    healthy = true;
    await q.retry(id);
    await eventually(
      async () => (await q.getJob(id))?.state === 'completed',
      10_000,
      'completion after retry',
    );
    expect(await q.failed({ queue: job.name })).toEqual([]);
    await expect(q.retry(id)).rejects.toBeInstanceOf(ConflictError);
  });

  it('enqueues inside a transaction: kept when it commits, gone when it rolls back', async () => {
    const ran: number[] = [];
    const job = defineJob({ name: uniqueName(), schema: data, handler: async ({ n }) => void ran.push(n) });
    const q = queue().define(job);
    await q.start();
    const kept = await t.authz.asService('test: enqueue', async (tx) => {
      const id = await q.sendInTransaction(tx, job, { n: 1 });
      // The transaction's role is back to what it was, for the statements after the send.
      const role = await tx.execute(sql`select current_user as role`);
      expect((role as unknown as { rows: { role: string }[] }).rows[0]?.role).toBe('service_role');
      return id;
    });
    let dropped: string | null = null;
    await expect(
      t.authz.asService('test: enqueue and fail', async (tx) => {
        dropped = await q.sendInTransaction(tx, job, { n: 2 });
        throw new Error('the user row could not be written');
      }),
    ).rejects.toThrow('could not be written');
    await eventually(async () => (await q.getJob(kept!))?.state === 'completed', 10_000, 'the committed job');
    expect(dropped).not.toBeNull();
    expect(await q.getJob(dropped!)).toBeNull();
    expect(ran).toEqual([1]);
  });

  it('shares the database with drizzle transactions without deadlocking', async () => {
    const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
    const done = new Set<number>();
    const job = defineJob({
      name: uniqueName(),
      schema: data,
      concurrency: 4,
      // Handlers hold transactions open across awaits while pg-boss polls and completes.
      handler: async ({ n }) => {
        await t.authz.asService('test: job work', async (tx) => {
          await tx.execute(sql`select 1`);
          await pause();
          await tx.execute(sql`select 2`);
        });
        done.add(n);
      },
    });
    const q = queue({ pollingIntervalMs: 200 }).define(job);
    await q.start();
    const total = 40;
    await Promise.all(
      Array.from({ length: total }, (_, n) =>
        t.authz.asService('test: enqueue in a long transaction', async (tx) => {
          await pause();
          await q.sendInTransaction(tx, job, { n });
          await pause();
        }),
      ),
    );
    await eventually(() => done.size === total, 20_000, 'every job');
    expect(done.size).toBe(total);
  });

  it('refuses data that does not fit the job, and jobs it does not know', async () => {
    const job = defineJob({ name: uniqueName(), schema: data, handler: async () => undefined });
    const q = queue({ role: 'client' }).define(job);
    await q.start();
    await expect(q.send(job, { n: 'one' } as never)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(q.send('no-such-job', {})).rejects.toThrow(/not defined/);
  });

  it('sends scheduled jobs on their cron, scheduled at start or later', async () => {
    const runs: number[] = [];
    const handler = async ({ n }: { n: number }) => {
      runs.push(n);
    };
    const declared = defineJob({
      name: uniqueName(),
      schema: data,
      handler,
      schedule: { cron: '* * * * *', data: { n: 1 } },
    });
    const later = defineJob({ name: uniqueName(), schema: data, handler });
    const q = queue({ cronCheckSeconds: 1 }).define(declared).define(later);
    await q.start();
    await q.schedule(later, '* * * * *', { n: 2 });
    await eventually(() => runs.length >= 2, 15_000, 'the scheduled runs');
    // One send per cron slot, however many times the clock looked.
    expect(runs.sort()).toEqual([1, 2]);
  });

  it('runs the job of a worker that died mid-run once it expires', async () => {
    const job = defineJob({
      name: uniqueName(),
      schema: data,
      expireInSeconds: 1,
      retryBackoff: false,
      retryDelaySeconds: 0,
      handler: async () => ({ rescued: true }),
    });
    // Create the queue, then let "a dead worker" take the job and never finish it.
    const setup = queue({ role: 'client' }).define(job);
    await setup.start();
    const id = (await setup.send(job, { n: 1 }))!;
    const taken = await (await rawBoss()).fetch(job.name);
    expect(taken.map((j) => j.id)).toEqual([id]);
    const q = queue().define(job);
    await q.start();
    await eventually(async () => (await q.getJob(id))?.state === 'completed', 15_000, 'the rescued job');
    expect((await q.getJob(id))?.attempts).toBe(2);
  });

  it('lets a running job finish at close, and hands back one that takes too long', async () => {
    let release: () => void = () => {};
    const job = defineJob({
      name: uniqueName(),
      schema: data,
      handler: async ({ n }) => {
        if (n === 2) await new Promise<void>((resolve) => (release = resolve));
      },
    });
    const q = queue({ shutdownTimeoutMs: 300 }).define(job);
    await q.start();
    const quick = (await q.send(job, { n: 1 }))!;
    await eventually(async () => (await q.getJob(quick))?.state === 'completed', 10_000);
    const stuck = (await q.send(job, { n: 2 }))!;
    await eventually(async () => (await q.getJob(stuck))?.state === 'active', 10_000);
    await q.close();
    const inspector = queue({ role: 'client' });
    await inspector.start();
    // Back in the queue as if never started: the shutdown did not use up an attempt.
    expect(await inspector.getJob(stuck)).toMatchObject({ state: 'created', attempts: 0 });
    release();
  });
});
