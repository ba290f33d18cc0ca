/**
 * The one place where database access is authorised. A user's query runs inside
 * `withUser(userId, fn)`: a transaction that sets Supabase-style JWT claims and switches
 * to the `authenticated` role, so the row-level security policies decide what it sees.
 * Access beyond one user (background jobs, the reconciler, the vault rotation) goes
 * through `asService(reason, fn)`, which runs as `service_role` and must say why; the
 * reason names the call site in code review and in the database's own logs.
 */
import { sql } from 'drizzle-orm';
import type { Db, Tx } from './engine.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Authz {
  withUser<T>(userId: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  asService<T>(reason: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
}

export function createAuthz(db: Db): Authz {
  return {
    async withUser(userId, fn) {
      // A malformed id would reach auth.uid()'s uuid cast and fail there with database
      // text; refusing it here keeps the error typed and the query never sent.
      if (!UUID.test(userId)) throw new TypeError('withUser needs a user id that is a UUID');
      const claims = JSON.stringify({ sub: userId, role: 'authenticated', aud: 'authenticated' });
      return db.transaction(async (tx) => {
        await tx.execute(
          sql`select set_config('request.jwt.claims', ${claims}, true), set_config('role', 'authenticated', true)`,
        );
        return fn(tx);
      });
    },
    async asService(reason, fn) {
      if (!reason.trim()) throw new TypeError('asService needs a reason');
      return db.transaction(async (tx) => {
        await tx.execute(
          sql`select set_config('role', 'service_role', true), set_config('application_name', ${`berth: ${reason}`.slice(0, 63)}, true)`,
        );
        return fn(tx);
      });
    },
  };
}
