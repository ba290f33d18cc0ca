/**
 * The one place where database access is authorised. A user's query runs inside
 * `withUser(userId, fn)`: a transaction that sets Supabase-style JWT claims and switches
 * to the `berth_user` role, so the row-level security policies decide what it sees and
 * writes. That role is berth's own, not Supabase's `authenticated`: a Data API client
 * holding a user's token runs as `authenticated`, which may only read (migration 0008).
 * Access beyond one user (background jobs, the reconciler, the vault rotation) goes
 * through `asService(reason, fn)`, which runs as `service_role` and must say why; the
 * reason names the call site in code review and in the database's own logs.
 *
 * `readAsUser(userId, statement)` is `withUser` for one read statement, sent with its
 * claims as a single simple-protocol query (see `script.ts`): one round trip instead of
 * four, for the reads a signed-in user makes on every page. `queryAsService` is the same
 * for one service statement (the DigitalOcean rate budget, asked before every call).
 * `scriptAsUser` and `scriptAsService` send several statements the same way: one
 * transaction that commits in the round trip that carries it, or rolls back whole. Its
 * statements cannot branch on each other's results in JavaScript, only in SQL; the cold
 * deploy's writes are written so (see `store/ssh-keys.ts`).
 */
import { type SQL, sql } from 'drizzle-orm';
import type { DatabaseHandle, Tx } from './engine.ts';
import { type Row, scriptRunner } from './script.ts';
import { transactionRunner } from './transaction.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Authz {
  withUser<T>(userId: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  asService<T>(reason: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** One read statement as the user, in one round trip; `map` shapes each row. */
  readAsUser<T>(userId: string, statement: SQL, map: (row: Row) => T): Promise<T[]>;
  /** One statement as the service role, in one round trip and a transaction of its own. */
  queryAsService<T>(reason: string, statement: SQL, map: (row: Row) => T): Promise<T[]>;
  /** Statements as the user, as one transaction in one round trip; the rows of each. */
  scriptAsUser(userId: string, statements: SQL[]): Promise<Row[][]>;
  /** Statements as the service role, as one transaction in one round trip; the rows of each. */
  scriptAsService(reason: string, statements: SQL[]): Promise<Row[][]>;
}

/**
 * What a user's statements run under: their claims, exactly as Supabase sets them for a
 * signed-in user (so `auth.uid()` and `auth.role()` read as they would there), and
 * berth's own user role, which alone may write.
 */
function asUser(userId: string): SQL {
  // A malformed id would reach auth.uid()'s uuid cast and fail there with database
  // text; refusing it here keeps the error typed and the query never sent.
  if (!UUID.test(userId)) throw new TypeError('withUser needs a user id that is a UUID');
  const claims = JSON.stringify({ sub: userId, role: 'authenticated', aud: 'authenticated' });
  return sql`select set_config('request.jwt.claims', ${claims}, true), set_config('role', 'berth_user', true)`;
}

/** What a service statement runs under: the service role, and its reason as the database shows it. */
function asServiceRole(reason: string): SQL {
  if (!reason.trim()) throw new TypeError('asService needs a reason');
  const name = `berth: ${reason}`.slice(0, 63);
  return sql`select set_config('role', 'service_role', true), set_config('application_name', ${name}, true)`;
}

export function createAuthz(database: Pick<DatabaseHandle, 'db' | 'engine'>): Authz {
  const runScript = scriptRunner(database.engine);
  const transaction = transactionRunner(database);
  // The settings and the statements as one simple-protocol query: one implicit
  // transaction, so the settings last exactly to its end.
  const script = async (settings: SQL, statements: SQL[]) =>
    (await runScript([settings, ...statements])).slice(1);
  const oneTrip = async <T>(settings: SQL, statement: SQL, map: (row: Row) => T) => {
    const [rows = []] = await script(settings, [statement]);
    return rows.map(map);
  };
  // Async, so that a bad user id or an empty reason is a rejection like any other failure.
  return {
    readAsUser: async (userId, statement, map) => oneTrip(asUser(userId), statement, map),
    queryAsService: async (reason, statement, map) => oneTrip(asServiceRole(reason), statement, map),
    scriptAsUser: async (userId, statements) => script(asUser(userId), statements),
    scriptAsService: async (reason, statements) => script(asServiceRole(reason), statements),
    withUser: async (userId, fn) => transaction(asUser(userId), fn),
    asService: async (reason, fn) => transaction(asServiceRole(reason), fn),
  };
}
