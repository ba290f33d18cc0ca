import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type DatabaseHandle, type EngineClient, openDatabase } from '../../src/db/engine.ts';
import { postgresBossDb } from '../../src/jobs/boss-db.ts';
import { defineJob } from '../../src/jobs/definition.ts';
import { type JobQueue, QUEUE_SCHEMA } from '../../src/jobs/queue.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { eventually } from '../support/eventually.ts';
import { testQueue } from './helpers.ts';

const fixture = fileURLToPath(new URL('./fixtures/dying-worker.ts', import.meta.url));

describe.each(testEngines())('several job queues on one %s database', (engine: EngineName) => {
  let t: TestDatabase;
  let second: DatabaseHandle | null = null;
  const open: JobQueue[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    // On PostgreSQL the second queue gets its own connections, as another process would.
    if (t.url) second = await openDatabase({ kind: 'postgres', url: t.url, poolSize: 2 });
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await Promise.all(open.splice(0).map((q) => q.close()));
  });
  afterAll(async () => {
    await second?.close();
    await t.close();
  });

  const queue = (on: EngineClient, options = {}) => {
    const q = testQueue(on, options);
    open.push(q);
    return q;
  };

  it('runs every job exactly once between two queues', async () => {
    const runs = new Map<number, string[]>();
    const name = `shared-${randomUUID().slice(0, 8)}`;
    const job = (who: string) =>
      defineJob({
        name,
        schema: z.object({ n: z.number() }),
        concurrency: 4,
        handler: async ({ n }) => {
          runs.set(n, [...(runs.get(n) ?? []), who]);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
        },
      });
    const a = queue(t.engine).define(job('a'));
    const b = queue(second?.engine ?? t.engine).define(job('b'));
    await Promise.all([a.start(), b.start()]);
    const total = 200;
    await Promise.all(Array.from({ length: total }, (_, n) => (n % 2 ? a : b).send(name, { n })));
    await eventually(() => runs.size === total, 30_000, 'every job');
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for any duplicate to show
    const duplicates = [...runs.values()].filter((who) => who.length !== 1);
    const byA = [...runs.values()].filter((who) => who[0] === 'a').length;
    console.log(`[${engine}] ${total} jobs: ${byA} ran on queue a, ${total - byA} on queue b`);
    // Which queue wins each job depends on timing (one may take them all on a loaded
    // machine), so only the exactly-once property is asserted.
    expect(duplicates).toEqual([]);
    expect(runs.size).toBe(total);
  });

  if (engine === 'postgres') {
    it('starts several processes at once on a fresh database', async () => {
      // Every start creates queues, berth's and pg-boss's own; unserialised, two creations
      // deadlock and PostgreSQL fails one of them, and with it a process's start.
      const names = ['alpha', 'beta', 'gamma'].map((n) => `${n}-${randomUUID().slice(0, 8)}`);
      const definitions = names.map((name) =>
        defineJob({ name, schema: z.object({}), handler: async () => undefined }),
      );
      const handles = await Promise.all(
        [1, 2, 3].map(() => openDatabase({ kind: 'postgres', url: t.url!, poolSize: 2 })),
      );
      try {
        for (let round = 0; round < 4; round++) {
          await t.db.execute(sql`drop schema if exists pgboss cascade`);
          const queues = handles.map((h) => {
            const q = queue(h.engine);
            for (const d of definitions) q.define(d);
            return q;
          });
          await Promise.all(queues.map((q) => q.start()));
          for (const q of open.splice(0)) await q.close();
        }
      } finally {
        await Promise.all(handles.map((h) => h.close()));
      }
      const queued = (await t.db.execute(sql`select name from pgboss.queue`)) as unknown as {
        rows: { name: string }[];
      };
      expect(queued.rows.map((r) => r.name)).toEqual(expect.arrayContaining(names));
    });

    it('creates queues from several processes at once without deadlocking', async () => {
      // What pg-boss itself sends for its cron queue at every start, outside berth's
      // code: many at once, each process on its own connections, must all succeed.
      const executors = [1, 2, 3, 4].map(() => postgresBossDb(t.url!, 3));
      const id = randomUUID().slice(0, 8);
      const settings = {
        policy: 'standard',
        retryLimit: 2,
        retryDelay: 0,
        retryBackoff: false,
        expireInSeconds: 60,
        retentionMinutes: 60,
      };
      try {
        await queue(t.engine).start();
        const created = await Promise.allSettled(
          Array.from({ length: 16 }, (_, i) =>
            executors[i % executors.length]!.executeSql(`SELECT ${QUEUE_SCHEMA}.create_queue($1, $2)`, [
              `many-${id}-${i}`,
              settings,
            ]),
          ),
        );
        expect(created.filter((c) => c.status === 'rejected')).toEqual([]);
      } finally {
        await Promise.all(executors.map((e) => e.close()));
      }
    });

    it('runs the job of a process killed mid-job on another process', async () => {
      const name = `crash-${randomUUID().slice(0, 8)}`;
      let rescued: string | null = null;
      const definition = defineJob({
        name,
        schema: z.object({ n: z.number() }),
        expireInSeconds: 2,
        retryBackoff: false,
        retryDelaySeconds: 0,
        handler: async (_data, job) => {
          rescued = job.id;
        },
      });
      const sender = queue(t.engine, { role: 'client' }).define(definition);
      await sender.start();
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, t.url!, name], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      let output = '';
      child.stdout?.on('data', (chunk) => {
        output += chunk;
      });
      await eventually(() => output.includes('ready'), 20_000, 'the child worker');
      const id = (await sender.send(definition, { n: 1 }))!;
      await eventually(() => output.includes(`started ${id}`), 10_000, 'the child taking the job');
      child.kill('SIGKILL');
      const survivor = queue(t.engine).define(definition);
      await survivor.start();
      await eventually(async () => (await survivor.getJob(id))?.state === 'completed', 20_000, 'the rescue');
      expect(rescued).toBe(id);
      expect((await survivor.getJob(id))?.attempts).toBe(2);
    });
  }
});
