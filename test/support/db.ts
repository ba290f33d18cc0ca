/**
 * Test databases on both engines. Every database test runs once on PGlite (in memory,
 * one instance per test file, since each takes seconds and hundreds of megabytes to open)
 * and once on the PostgreSQL server named by TEST_DATABASE_URL, in a database of its own
 * that is dropped afterwards. CI sets TEST_DATABASE_URL; a CI run without it fails here
 * rather than silently testing one engine.
 */
import { randomUUID } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import pg from 'pg';
import { type Authz, createAuthz } from '../../src/db/authz.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/engine.ts';
import { runMigrations } from '../../src/db/migrate.ts';
import { ensureUserRow } from '../../src/store/users.ts';

export type EngineName = 'pglite' | 'postgres';

export function testEngines(): EngineName[] {
  if (process.env.TEST_DATABASE_URL) return ['pglite', 'postgres'];
  if (process.env.CI) {
    throw new Error('TEST_DATABASE_URL is not set: CI must run the database tests on PostgreSQL too.');
  }
  console.warn('TEST_DATABASE_URL is not set: database tests run on PGlite only.');
  return ['pglite'];
}

export interface TestDatabase extends DatabaseHandle {
  readonly name: EngineName;
  readonly authz: Authz;
  /** The URL of this test's own database (PostgreSQL only). */
  readonly url: string | null;
  createUser(email?: string): Promise<string>;
}

/**
 * One statement as Supabase's Data API (PostgREST) runs it for a signed-in user: as the
 * role `authenticated`, with the user's token's claims. Not berth's own path (that is
 * `withUser`, as `berth_user`): this is what any client holding the token could do.
 */
export async function asDataApiClient(
  db: DatabaseHandle['db'],
  userId: string,
  statement: SQL,
): Promise<Record<string, unknown>[]> {
  const claims = JSON.stringify({ sub: userId, role: 'authenticated', aud: 'authenticated' });
  return db.transaction(async (tx) => {
    await tx.execute(
      sql`select set_config('request.jwt.claims', ${claims}, true), set_config('role', 'authenticated', true)`,
    );
    return ((await tx.execute(statement)) as unknown as { rows: Record<string, unknown>[] }).rows;
  });
}

/** Creates an empty database on the test server and returns its URL and a dropper. */
export async function createServerDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `berth_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export async function openTestDatabase(
  name: EngineName,
  options: { migrate?: boolean } = {},
): Promise<TestDatabase> {
  let handle: DatabaseHandle;
  let url: string | null = null;
  let drop = async () => {};
  if (name === 'postgres') {
    const created = await createServerDatabase();
    url = created.url;
    drop = created.drop;
    handle = await openDatabase({ kind: 'postgres', url, poolSize: 10 });
  } else {
    handle = await openDatabase({ kind: 'pglite', dataDir: null });
  }
  if (options.migrate !== false) await runMigrations(handle.engine);
  const authz = createAuthz(handle);
  return {
    ...handle,
    name,
    url,
    authz,
    async createUser(email) {
      const id = randomUUID();
      await authz.asService('test: create user', (tx) =>
        ensureUserRow(tx, { id, email: email ?? `${id}@example.test` }),
      );
      return id;
    },
    async close() {
      await handle.close();
      await drop();
    },
  };
}
