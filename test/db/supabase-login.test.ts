/**
 * berth on a database set up as a Supabase project's is. There berth migrates and runs
 * as `postgres`, which is not a superuser: it owns its database, may create roles, and
 * reaches berth's roles only through the membership the migrations grant. And Supabase's
 * default privileges hand every new table, sequence and function in `public` to the API
 * roles, so whatever the migrations do not take back, a Data API client holds. The other
 * database tests connect as a superuser on a plain server, which shows neither.
 *
 * PostgreSQL server only: logins and default privileges are the server's.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuthz } from '../../src/db/authz.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/engine.ts';
import { runMigrations } from '../../src/db/migrate.ts';
import { ensureUserRow } from '../../src/store/users.ts';
import { asDataApiClient, testEngines } from '../support/db.ts';

type Row = Record<string, unknown>;

/** What `authenticated` or `anon` may do in `public` beyond reading, and anon's reads too. */
const API_ROLE_PRIVILEGES = `
  select c.relname as relation, r.role, p.privilege
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
  cross join (values ('authenticated'), ('anon')) r(role)
  cross join (values ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'), ('REFERENCES'), ('TRIGGER'), ('USAGE')) p(privilege)
  where case
    when c.relkind = 'S' then p.privilege in ('SELECT', 'USAGE', 'UPDATE')
      and has_sequence_privilege(r.role, c.oid, p.privilege)
    when c.relkind in ('r', 'p', 'v', 'm') then p.privilege in ('INSERT', 'UPDATE', 'REFERENCES')
      and has_any_column_privilege(r.role, c.oid, p.privilege)
      or p.privilege in ('SELECT', 'DELETE', 'TRUNCATE', 'TRIGGER')
      and has_table_privilege(r.role, c.oid, p.privilege)
    else false
  end
  and not (r.role = 'authenticated' and c.relkind <> 'S' and p.privilege = 'SELECT')
  order by 1, 2, 3`;

interface Scratch {
  admin: pg.Client;
  login: string;
  url: string;
  handle: DatabaseHandle | null;
}

const scratches: Scratch[] = [];
afterEach(async () => {
  for (const s of scratches.splice(0)) {
    await s.handle?.close();
    const database = new URL(s.url).pathname.slice(1);
    await s.admin.query(`drop database if exists ${database} with (force)`);
    await s.admin.query(`drop role if exists ${s.login}`);
    await s.admin.end();
  }
});

/** A login with the given attributes, owning a fresh database with Supabase's default privileges. */
async function supabaseLikeDatabase(attributes: string): Promise<Scratch> {
  const adminUrl = process.env.TEST_DATABASE_URL as string;
  const suffix = randomUUID().replaceAll('-', '').slice(0, 12);
  const login = `berth_login_${suffix}`;
  const database = `berth_test_login_${suffix}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const url = new URL(adminUrl);
  url.username = login;
  url.pathname = `/${database}`;
  const scratch: Scratch = { admin, login, url: url.toString(), handle: null };
  scratches.push(scratch);
  await admin.query(`create role ${login} login nosuperuser ${attributes}`);
  await admin.query(`create database ${database} owner ${login}`);
  const inside = new pg.Client({ connectionString: new URL(`/${database}`, adminUrl).toString() });
  await inside.connect();
  try {
    // As a Supabase project has them (its roles' setup grants all in `public` to the API roles).
    for (const kind of ['tables', 'sequences', 'functions']) {
      await inside.query(
        `alter default privileges for role ${login} in schema public grant all on ${kind} to anon, authenticated, service_role`,
      );
    }
  } finally {
    await inside.end();
  }
  return scratch;
}

describe.runIf(testEngines().includes('postgres'))('berth on a Supabase-like login', () => {
  it('migrates as a login that is not a superuser, and its user paths write as berth_user', async () => {
    const s = await supabaseLikeDatabase('createrole');
    s.handle = await openDatabase({ kind: 'postgres', url: s.url, poolSize: 2 });
    // berth_user exists already (the cluster's other test databases made it), so this runs
    // the grant of an existing role to the login, which is the path an upgrade takes.
    await runMigrations(s.handle.engine);
    const authz = createAuthz(s.handle);
    const user = randomUUID();
    await authz.asService('test: create user', (tx) =>
      ensureUserRow(tx, { id: user, email: `${user}@example.test` }),
    );
    const agent = randomUUID();
    await authz.withUser(user, (tx) =>
      tx.execute(sql`insert into agents (id, user_id, name) values (${agent}, ${user}, 'agent')`),
    );
    expect(await authz.readAsUser(user, sql`select id from agents`, (row) => row.id)).toEqual([agent]);
    // The Data API's role on the same login reads the row and cannot add one.
    const db = s.handle.db;
    expect(await asDataApiClient(db, user, sql`select id from agents`)).toEqual([{ id: agent }]);
    await expect(
      asDataApiClient(db, user, sql`insert into agents (user_id, name) values (${user}, 'mine')`),
    ).rejects.toMatchObject({ cause: expect.objectContaining({ code: '42501' }) });
  });

  it('leaves the API roles nothing in public but authenticated’s reads, whatever the default privileges gave', async () => {
    const s = await supabaseLikeDatabase('createrole');
    s.handle = await openDatabase({ kind: 'postgres', url: s.url, poolSize: 2 });
    await runMigrations(s.handle.engine);
    // The defaults were in force: service_role holds the rate ledger's sequence only through them.
    const [defaults] = (
      (await s.handle.db.execute(
        sql`select has_sequence_privilege('service_role', 'public.do_api_calls_id_seq', 'UPDATE') as held`,
      )) as unknown as { rows: Row[] }
    ).rows;
    expect(defaults).toEqual({ held: true });
    const left = (await s.handle.db.execute(sql.raw(API_ROLE_PRIVILEGES))) as unknown as { rows: Row[] };
    expect(left.rows).toEqual([]);
  });

  it('refuses to start, naming the grant, when its login cannot switch to berth’s roles', async () => {
    // A login that may not grant roles: the migrations' grants turn into notices, and
    // without this check every user request would fail later with "permission denied".
    const s = await supabaseLikeDatabase('nocreaterole');
    s.handle = await openDatabase({ kind: 'postgres', url: s.url, poolSize: 2 });
    await expect(runMigrations(s.handle.engine)).rejects.toThrow(
      new RegExp(`login ${s.login} cannot switch to the role berth_user.*GRANT berth_user TO ${s.login};`),
    );
  });
});
