import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../../src/db/engine.ts';
import { migrationsFolder, runMigrations } from '../../src/db/migrate.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';

async function rows<T>(db: Executor, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

/** A fingerprint of everything the migrations create, to show a second run changes nothing. */
async function schemaFingerprint(db: Executor) {
  return {
    columns: await rows(
      db,
      sql`select table_schema, table_name, column_name, data_type, is_nullable
      from information_schema.columns where table_schema in ('public', 'auth') order by 1, 2, 3`,
    ),
    policies: await rows(
      db,
      sql`select tablename, policyname, cmd, roles::text[] as roles, qual, with_check from pg_policies order by 1, 2`,
    ),
    indexes: await rows(
      db,
      sql`select indexname, indexdef from pg_indexes where schemaname = 'public' order by 1`,
    ),
    grants: await rows(
      db,
      sql`select table_name, grantee, privilege_type from information_schema.role_table_grants
      where table_schema = 'public' and grantee in ('anon', 'authenticated', 'berth_user', 'service_role')
      order by 1, 2, 3`,
    ),
    columnGrants: await rows(
      db,
      sql`select table_name, column_name, grantee, privilege_type from information_schema.column_privileges
      where table_schema = 'public' and grantee in ('anon', 'authenticated', 'berth_user', 'service_role')
      order by 1, 2, 3, 4`,
    ),
    functions: await rows(
      db,
      sql`select p.proname, md5(p.prosrc) as body from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' order by 1`,
    ),
    migrations: await rows(db, sql`select hash from drizzle.__drizzle_migrations order by id`),
  };
}

describe.each(testEngines())('migrations on %s', (engine: EngineName) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterAll(() => t.close());

  it('changes nothing when run a second time', async () => {
    const before = await schemaFingerprint(t.db);
    await runMigrations(t.engine);
    expect(await schemaFingerprint(t.db)).toEqual(before);
    expect(before.migrations.length).toBeGreaterThanOrEqual(3);
  });

  it('changes nothing when its hand-written migrations run again, statement by statement', async () => {
    // drizzle skips a recorded migration, so the test above never re-runs one; these say
    // they can run twice (a second `berth migrate` after a failed first, an operator's
    // re-run by hand), so they are run again here. 0001, 0003, 0009 and 0011 are drizzle-kit's
    // CREATE TABLEs, which are not meant to.
    const before = await schemaFingerprint(t.db);
    const handWritten = readdirSync(migrationsFolder)
      .filter((file) => file.endsWith('.sql') && !/^00(01|03|09|11)_/.test(file))
      .sort();
    expect(handWritten).toContain('0008_berth_user_role.sql');
    for (const file of handWritten) {
      const text = readFileSync(join(migrationsFolder, file), 'utf8');
      for (const statement of text.split('--> statement-breakpoint')) {
        if (statement.trim()) await t.db.execute(sql.raw(statement));
      }
    }
    expect(await schemaFingerprint(t.db)).toEqual(before);
  });

  it('creates the Supabase roles and berth’s user role, none that logs in, BYPASSRLS for service_role only', async () => {
    const roles = await rows<{ rolname: string; rolbypassrls: boolean; rolcanlogin: boolean }>(
      t.db,
      sql`select rolname, rolbypassrls, rolcanlogin from pg_roles
        where rolname in ('anon', 'authenticated', 'berth_user', 'service_role') order by 1`,
    );
    expect(roles).toEqual([
      { rolname: 'anon', rolbypassrls: false, rolcanlogin: false },
      { rolname: 'authenticated', rolbypassrls: false, rolcanlogin: false },
      { rolname: 'berth_user', rolbypassrls: false, rolcanlogin: false },
      { rolname: 'service_role', rolbypassrls: true, rolcanlogin: false },
    ]);
  });

  it('reads auth.uid() from request.jwt.claims as Supabase does', async () => {
    const id = '5d0c3a7e-2f1b-4c6d-8e9f-0a1b2c3d4e5f';
    const [legacy] = await t.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('request.jwt.claim.sub', ${id}, true)`);
      return rows<{ uid: string }>(tx, sql`select auth.uid() as uid`);
    });
    expect(legacy?.uid).toBe(id);
    const [viaClaims] = await t.authz.withUser(id, (tx) =>
      rows<{ uid: string; role: string }>(tx, sql`select auth.uid() as uid, auth.role() as role`),
    );
    expect(viaClaims).toEqual({ uid: id, role: 'authenticated' });
  });

  it('keeps the audit log append-only for the application roles', async () => {
    const userId = await t.createUser();
    await t.authz.withUser(userId, (tx) =>
      tx.execute(
        sql`insert into ssh_key_audit_log (user_id, actor, operation, outcome) values (${userId}, 'test', 'key.listed', 'success')`,
      ),
    );
    await expect(
      t.authz.withUser(userId, (tx) =>
        tx.execute(sql`update ssh_key_audit_log set actor = 'x' where user_id = ${userId}`),
      ),
    ).rejects.toThrow();
    await expect(
      t.authz.withUser(userId, (tx) =>
        tx.execute(sql`delete from ssh_key_audit_log where user_id = ${userId}`),
      ),
    ).rejects.toThrow();
    await expect(
      t.authz.asService('test: try to erase audit', (tx) => tx.execute(sql`delete from ssh_key_audit_log`)),
    ).rejects.toThrow();
    await expect(
      t.authz.asService('test: try to rewrite audit', (tx) =>
        tx.execute(sql`update ssh_key_audit_log set actor = 'x'`),
      ),
    ).rejects.toThrow();
    const [count] = await t.authz.asService('test: count audit', (tx) =>
      rows<{ n: number }>(
        tx,
        sql`select count(*)::int as n from ssh_key_audit_log where user_id = ${userId}`,
      ),
    );
    expect(count?.n).toBe(1);
  });
});

describe.each(testEngines())('on a database that already has auth.users (%s)', (engine: EngineName) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine, { migrate: false });
  });
  afterAll(() => t.close());

  it('leaves the existing auth.users and auth.uid() alone', async () => {
    // A Supabase project's auth.users has many more columns; berth must not replace it.
    await t.db.execute(sql`create schema auth`);
    await t.db.execute(
      sql`create table auth.users (id uuid primary key, email text, phone text, is_sso_user boolean)`,
    );
    await t.db.execute(
      sql`create function auth.uid() returns uuid language sql stable as $$ select '00000000-0000-0000-0000-000000000001'::uuid $$`,
    );
    await runMigrations(t.engine);
    const columns = await rows<{ column_name: string }>(
      t.db,
      sql`select column_name from information_schema.columns where table_schema = 'auth' and table_name = 'users' order by 1`,
    );
    expect(columns.map((c) => c.column_name)).toEqual(['email', 'id', 'is_sso_user', 'phone']);
    const [uid] = await rows<{ uid: string }>(t.db, sql`select auth.uid() as uid`);
    expect(uid?.uid).toBe('00000000-0000-0000-0000-000000000001');
  });
});

it('keeps the hand-written migrations in the journal drizzle-kit maintains', () => {
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta/_journal.json'), 'utf8')) as {
    entries: { tag: string }[];
  };
  expect(journal.entries.map((e) => e.tag).slice(0, 3)).toEqual([
    '0000_supabase_compat',
    '0001_tables',
    '0002_rls_and_grants',
  ]);
});
