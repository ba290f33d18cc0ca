/**
 * The one place where database access is authorised. A user's query runs inside
 * `withUser(userId, fn)`: a transaction that sets Supabase-style JWT claims and switches
 * to the `authenticated` role, so the row-level security policies decide what it sees.
 * Access beyond one user (background jobs, the reconciler, the vault rotation) goes
 * through `asService(reason, fn)`, which runs as `service_role` and must say why; the
 * reason names the call site in code review and in the database's own logs.
 *
 * `readAsUser(userId, statement)` is `withUser` for one read statement, sent with its
 * claims as a single simple-protocol query (see `script.ts`): one round trip instead of
 * four, for the reads a signed-in user makes on every page. `queryAsService` is the same
 * for one service statement (the DigitalOcean rate budget, asked before every call).
 */
import { type SQL, sql } from 'drizzle-orm';
import type { DatabaseHandle, Tx } from './engine.ts';
import { inlineStatement, literal, type Row, scriptRunner } from './script.ts';
import { transactionRunner } from './transaction.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Authz {
  withUser<T>(userId: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  asService<T>(reason: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** One read statement as the user, in one round trip; `map` shapes each row. */
  readAsUser<T>(userId: string, statement: SQL, map: (row: Row) => T): Promise<T[]>;
  /** One statement as the service role, in one round trip and a transaction of its own. */
  queryAsService<T>(reason: string, statement: SQL, map: (row: Row) => T): Promise<T[]>;
}

const claimsOf = (userId: string) => {
  // A malformed id would reach auth.uid()'s uuid cast and fail there with database
  // text; refusing it here keeps the error typed and the query never sent.
  if (!UUID.test(userId)) throw new TypeError('withUser needs a user id that is a UUID');
  return JSON.stringify({ sub: userId, role: 'authenticated', aud: 'authenticated' });
};

/** The reason a service transaction gives, as the database shows it (pg_stat_activity). */
function applicationName(reason: string): string {
  if (!reason.trim()) throw new TypeError('asService needs a reason');
  return `berth: ${reason}`.slice(0, 63);
}

export function createAuthz(database: Pick<DatabaseHandle, 'db' | 'engine'>): Authz {
  const runScript = scriptRunner(database.engine);
  const transaction = transactionRunner(database);
  return {
    async readAsUser(userId, statement, map) {
      const script =
        `select set_config('request.jwt.claims', ${literal(claimsOf(userId))}, true), ` +
        `set_config('role', 'authenticated', true);\n${inlineStatement(statement)}`;
      const rows = await runScript(script);
      return rows.map(map);
    },
    async queryAsService(reason, statement, map) {
      const script =
        `select set_config('role', 'service_role', true), ` +
        `set_config('application_name', ${literal(applicationName(reason))}, true);\n${inlineStatement(statement)}`;
      const rows = await runScript(script);
      return rows.map(map);
    },
    async withUser(userId, fn) {
      const claims = claimsOf(userId);
      return transaction(
        sql`select set_config('request.jwt.claims', ${claims}, true), set_config('role', 'authenticated', true)`,
        fn,
      );
    },
    async asService(reason, fn) {
      const name = applicationName(reason);
      return transaction(
        sql`select set_config('role', 'service_role', true), set_config('application_name', ${name}, true)`,
        fn,
      );
    },
  };
}
