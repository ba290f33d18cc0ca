/**
 * The connections pg-boss talks through. pg-boss 10 accepts any object with
 * `executeSql(text, values)`, which lets berth run it on both of its engines and inside
 * a caller's transaction:
 *
 * - PostgreSQL: a small pool of the queue's own, so job traffic never waits behind
 *   request traffic (and the other way round).
 * - PGlite: the embedded database itself. A parameterised statement goes through
 *   `query` (extended protocol, one statement); a text without parameters may hold
 *   several statements (pg-boss's migrations and its locked `BEGIN; …; COMMIT;`
 *   maintenance), so it goes through `exec`. PGlite serialises both behind its
 *   transaction lock, so pg-boss's statements wait for an open drizzle transaction
 *   instead of landing inside it.
 * - A drizzle transaction, for enqueueing atomically with other writes: the job row
 *   commits or rolls back with the transaction.
 *
 * Every executor counts its statements in flight, so closing the queue can wait for
 * the last one instead of pulling the connection from under it.
 */
import type { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import pg from 'pg';
import type { Tx } from '../db/engine.ts';

export interface BossDb {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** An executor that can be drained and closed by the queue that owns it. */
export interface OwnedBossDb extends BossDb {
  /** Resolves when every statement started so far has settled. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

function tracked(run: BossDb['executeSql'], close: () => Promise<void>): OwnedBossDb {
  const inFlight = new Set<Promise<unknown>>();
  return {
    executeSql(text, values) {
      const pending = run(text, values);
      inFlight.add(pending);
      const forget = () => inFlight.delete(pending);
      pending.then(forget, forget);
      return pending;
    },
    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    close,
  };
}

/**
 * pg-boss 10's `create_queue` deadlocks against itself when two sessions create queues
 * at once: each inserts its queue row, then adds a foreign key to the queue table, which
 * waits for the other's insert. berth creates its queues at start, and so does pg-boss
 * (its cron queue, whose failure it swallows), in every process; so every call, whoever
 * makes it, first takes this advisory lock in the same transaction. Earlier berths took
 * the same lock around their own calls only, so during an upgrade old and new processes
 * still wait for each other.
 */
const CREATE_QUEUE = /\bcreate_queue\s*\(/i;
const CREATE_QUEUE_LOCK = "select pg_advisory_xact_lock(hashtext('berth: create job queues'))";

export function postgresBossDb(url: string, poolSize: number): OwnedBossDb {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'berth: jobs' });
  // An idle connection that dies (server restart) must not crash the process; the next
  // statement gets a fresh connection, and the queue's polling retries meanwhile.
  pool.on('error', () => {});
  return tracked(
    async (text, values) => {
      const params = values as unknown[] | undefined;
      if (!CREATE_QUEUE.test(text)) return { rows: (await pool.query(text, params)).rows };
      return { rows: await createQueueLocked(pool, text, params) };
    },
    () => pool.end(),
  );
}

async function createQueueLocked(pool: pg.Pool, text: string, values: unknown[] | undefined) {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('begin');
    await client.query(CREATE_QUEUE_LOCK);
    const result = await client.query(text, values);
    await client.query('commit');
    return result.rows as Record<string, unknown>[];
  } catch (error) {
    // A connection whose rollback fails is not given back to the pool.
    await client.query('rollback').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

export function pgliteBossDb(pglite: PGlite): OwnedBossDb {
  return tracked(
    async (text, values) => {
      if (values && values.length > 0) {
        const result = await pglite.query<Record<string, unknown>>(text, values);
        return { rows: result.rows };
      }
      try {
        const results = await pglite.exec(text);
        return { rows: (results.at(-1)?.rows ?? []) as Record<string, unknown>[] };
      } catch (error) {
        // A failed `BEGIN; …; COMMIT;` text leaves the one shared session inside an
        // aborted transaction, where every later statement of berth would fail.
        if (/\bBEGIN\b/i.test(text)) await pglite.exec('ROLLBACK').catch(() => {});
        throw error;
      }
    },
    // The PGlite instance belongs to the database handle, which closes it.
    async () => {},
  );
}

/**
 * Runs pg-boss's statements inside a drizzle transaction. pg-boss writes numbered
 * parameters (`$1`); they are rebuilt as drizzle parameters so the statement goes
 * through the transaction's own connection on either engine.
 */
export function transactionBossDb(tx: Tx): BossDb {
  return {
    async executeSql(text, values = []) {
      const result = await tx.execute(withParameters(text, values));
      return { rows: (result as unknown as { rows: Record<string, unknown>[] }).rows };
    },
  };
}

/** `select $1::int + $2` with [1, 2] → drizzle SQL with two bound parameters. */
export function withParameters(text: string, values: readonly unknown[]): SQL {
  const parts = text.split(/\$(\d+)/);
  const chunks: SQL[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) {
      if (parts[i]) chunks.push(sql.raw(parts[i]!));
      continue;
    }
    const index = Number(parts[i]) - 1;
    if (index < 0 || index >= values.length) {
      throw new RangeError(`statement refers to $${index + 1} but has ${values.length} values`);
    }
    chunks.push(sql`${sql.param(values[index] ?? null)}`);
  }
  return sql.join(chunks);
}
