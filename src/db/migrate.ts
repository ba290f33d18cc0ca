/**
 * Runs berth's migrations (drizzle's journal in src/db/migrations) on either engine.
 * drizzle records applied migrations, so running twice changes nothing. On a
 * PostgreSQL server several berth processes may start at once, so the run holds an
 * advisory lock on one dedicated connection and the others wait for it.
 *
 * After migrating it checks that the login can switch to the roles berth's queries run
 * as. The migrations grant them where they can, but a login that may not grant a role
 * (PostgreSQL 16 and later refuse that to CREATEROLE without ADMIN OPTION on a role
 * someone else created) passes the migrations and would then fail every user request;
 * this fails the start instead, naming the grant to make.
 */
import { fileURLToPath } from 'node:url';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import type { EngineClient } from './engine.ts';

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));
const MIGRATION_LOCK = 4_242_001;

/** The roles berth's connection switches to per transaction (src/db/authz.ts). */
const SWITCHED_ROLES = ['berth_user', 'service_role'] as const;

type Query = (text: string) => Promise<{ rows: unknown[] }>;

/** Privilege refused, or no such role: what a login that lacks the membership meets. */
const NOT_GRANTED = new Set(['42501', '42704']);

/**
 * Tries each switch inside a transaction that is rolled back, so nothing else sees it.
 * `transaction` runs its callback in one: PGlite's own, which holds off other work on
 * the shared instance, or begin and rollback on the migration's dedicated connection.
 */
async function checkRoleSwitches(transaction: <T>(fn: (query: Query) => Promise<T>) => Promise<T>) {
  for (const role of SWITCHED_ROLES) {
    await transaction(async (query) => {
      // Asked first: after a refused statement the transaction answers nothing more.
      const [who] = (await query('select session_user as login')).rows as { login: string }[];
      try {
        await query(`select set_config('role', '${role}', true)`);
      } catch (error) {
        if (!NOT_GRANTED.has((error as { code?: string }).code ?? '')) throw error;
        const login = who?.login ?? 'berth';
        throw new Error(
          `berth's database login ${login} cannot switch to the role ${role}, which berth's queries run as ` +
            `(${(error as Error).message}). Grant it as a superuser or as the role's creator: ` +
            `GRANT ${role} TO ${login};`,
        );
      }
    });
  }
}

/** A transaction on a node-postgres client that is always rolled back. */
function rolledBack(client: pg.Client) {
  return async <T>(fn: (query: Query) => Promise<T>): Promise<T> => {
    await client.query('begin');
    try {
      return await fn((text) => client.query(text));
    } finally {
      // A failed rollback must not hide the error that brought it here; the connection is
      // closed right after the check either way.
      await client.query('rollback').catch(() => {});
    }
  };
}

export async function runMigrations(engine: EngineClient): Promise<void> {
  if (engine.kind === 'pglite') {
    await migratePglite(drizzlePglite(engine.pglite), { migrationsFolder });
    await checkRoleSwitches((fn) =>
      // A callback that throws rolls PGlite's transaction back; one that returns is rolled back here.
      engine.pglite.transaction(async (tx) => {
        const result = await fn((text) => tx.query(text));
        await tx.rollback();
        return result;
      }),
    );
    return;
  }
  const client = new pg.Client({ connectionString: engine.url });
  await client.connect();
  try {
    // Notices from the guarded DO blocks are expected; keep them off stderr.
    client.on('notice', () => {});
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await migratePg(drizzlePg(client), { migrationsFolder });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
    await checkRoleSwitches(rolledBack(client));
  } finally {
    await client.end();
  }
}
