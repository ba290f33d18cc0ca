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

async function checkRoleSwitches(query: Query): Promise<void> {
  const [who] = (await query('select current_user as login')).rows as { login: string }[];
  for (const role of SWITCHED_ROLES) {
    await query('begin');
    try {
      await query(`select set_config('role', '${role}', true)`);
    } catch (error) {
      const login = who?.login ?? 'berth';
      throw new Error(
        `berth's database login ${login} cannot switch to the role ${role}, which berth's queries run as ` +
          `(${(error as Error).message}). Grant it as a superuser or as the role's creator: ` +
          `GRANT ${role} TO ${login};`,
      );
    } finally {
      await query('rollback');
    }
  }
}

export async function runMigrations(engine: EngineClient): Promise<void> {
  if (engine.kind === 'pglite') {
    await migratePglite(drizzlePglite(engine.pglite), { migrationsFolder });
    await checkRoleSwitches((text) => engine.pglite.query(text));
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
    await checkRoleSwitches((text) => client.query(text));
  } finally {
    await client.end();
  }
}
