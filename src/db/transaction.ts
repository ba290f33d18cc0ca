/**
 * A transaction whose first statement sets who is asking (the role, the claims), opened
 * in one round trip. drizzle's `db.transaction` sends BEGIN on its own, so every
 * `withUser` and `asService` paid a round trip for BEGIN and another for the settings;
 * on PostgreSQL this sends `BEGIN; SELECT set_config(…)…` as one simple-protocol query
 * on the transaction's connection, then hands the callback the same drizzle transaction
 * object drizzle itself would (savepoints for nested transactions included). PGlite
 * answers in-process, where a round trip costs nothing, so it keeps drizzle's own.
 */
import type { SQL } from 'drizzle-orm';
import { NodePgSession, NodePgTransaction } from 'drizzle-orm/node-postgres';
import type { PgDialect } from 'drizzle-orm/pg-core';
import type { DatabaseHandle, Tx } from './engine.ts';
import { inlineStatement } from './script.ts';

export type TransactionRunner = <T>(settings: SQL, fn: (tx: Tx) => Promise<T>) => Promise<T>;

export function transactionRunner(database: Pick<DatabaseHandle, 'db' | 'engine'>): TransactionRunner {
  const { db, engine } = database;
  if (engine.kind === 'pglite') {
    return (settings, fn) =>
      db.transaction(async (tx) => {
        await tx.execute(settings);
        return fn(tx);
      });
  }
  // drizzle's own parts, as its `transaction` builds them: the dialect and the schema
  // the database was made with (public fields its types mark internal).
  const internals = db as unknown as {
    dialect: PgDialect;
    _: ConstructorParameters<typeof NodePgSession>[2];
  };
  return async (settings, fn) => {
    const client = await engine.pool.connect();
    let broken: Error | undefined;
    try {
      // Should the settings fail after BEGIN, the transaction is open and aborted: the
      // rollback below closes it before the connection goes back to the pool.
      await client.query(`begin;\n${inlineStatement(settings)}`);
      const session = new NodePgSession(client, internals.dialect, internals._);
      const result = await fn(
        new NodePgTransaction(internals.dialect, session, internals._) as unknown as Tx,
      );
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch((rollbackError: Error) => {
        // A connection that cannot roll back must not go back to the pool.
        broken = rollbackError;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  };
}
