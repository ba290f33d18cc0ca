/**
 * Runs berth's migrations (drizzle's journal in src/db/migrations) on either engine.
 * drizzle records applied migrations, so running twice changes nothing. On a
 * PostgreSQL server several berth processes may start at once, so the run holds an
 * advisory lock on one dedicated connection and the others wait for it.
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

export async function runMigrations(engine: EngineClient): Promise<void> {
  if (engine.kind === 'pglite') {
    await migratePglite(drizzlePglite(engine.pglite), { migrationsFolder });
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
  } finally {
    await client.end();
  }
}
