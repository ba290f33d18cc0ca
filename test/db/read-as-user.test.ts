/**
 * `Authz.readAsUser`: one read statement sent with the user's claims as a single
 * simple-protocol query. It must be exactly as strict as `withUser` (row-level security
 * decides what it sees), must leave nothing behind on the connection it used, and must
 * write values into the statement so that no value can change what the statement is.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthz } from '../../src/db/authz.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/engine.ts';
import { keyFromRow, listKeysStatement } from '../../src/store/ssh-keys.ts';
import { openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';

async function insertKey(t: TestDatabase, userId: string, name: string) {
  const id = randomUUID();
  await t.authz.asService('test: insert key', (tx) =>
    tx.execute(sql`insert into user_ssh_keys (id, user_id, key_name, algorithm, source, public_key,
      fingerprint_sha256, fingerprint_md5, digitalocean_key_id)
      values (${id}, ${userId}, ${name}, 'ed25519', 'imported', 'ssh-ed25519 AAAA', ${`SHA256:${id}`}, ${id}, 4242)`),
  );
  return id;
}

describe.each(testEngines())('readAsUser on %s', (engine) => {
  let t: TestDatabase;
  // One connection, so that what a read leaves behind would be seen by the next query.
  let single: DatabaseHandle;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    single = t.url ? await openDatabase({ kind: 'postgres', url: t.url, poolSize: 1 }) : t;
    alice = await t.createUser();
    bob = await t.createUser();
    await insertKey(t, alice, 'first');
    await insertKey(t, alice, 'second');
  }, 60_000);

  afterAll(async () => {
    if (single !== t) await single.close();
    await t?.close();
  });

  it('reads the user’s own rows, typed as the store reads them', async () => {
    const keys = await t.authz.readAsUser(alice, listKeysStatement(alice), keyFromRow);
    expect(keys.map((k) => k.name)).toEqual(['first', 'second']);
    expect(keys[0]).toMatchObject({ userId: alice, digitaloceanKeyId: 4242, hasPrivateKey: false });
    expect(keys[0]?.createdAt).toBeInstanceOf(Date);
    expect(Number.isNaN(keys[0]?.createdAt.getTime())).toBe(false);
  });

  it('does not return another user’s key, even when the statement asks for it', async () => {
    expect(await t.authz.readAsUser(bob, listKeysStatement(alice), keyFromRow)).toEqual([]);
    const all = await t.authz.readAsUser(bob, sql`select id from user_ssh_keys`, (row) => row.id);
    expect(all).toEqual([]);
  });

  it('runs as berth’s user role with the user’s claims', async () => {
    const [who] = await t.authz.readAsUser(
      alice,
      sql`select current_user as role, auth.uid()::text as uid`,
      (row) => row,
    );
    expect(who).toEqual({ role: 'berth_user', uid: alice });
  });

  it('leaves neither the role nor the claims on the connection it used', async () => {
    const authz = createAuthz(single);
    await authz.readAsUser(alice, sql`select 1`, (row) => row);
    const after = (await single.db.execute(
      sql`select current_user as role, current_setting('request.jwt.claims', true) as claims`,
    )) as unknown as { rows: { role: string; claims: string | null }[] };
    expect(after.rows[0]?.role).not.toBe('berth_user');
    expect(after.rows[0]?.claims ?? '').toBe('');
  });

  it('leaves nothing behind when its statement fails either', async () => {
    const authz = createAuthz(single);
    await expect(authz.readAsUser(alice, sql`select 1/0`, (row) => row)).rejects.toThrow(/division by zero/);
    const after = (await single.db.execute(sql`select current_user as role`)) as unknown as {
      rows: { role: string }[];
    };
    expect(after.rows[0]?.role).not.toBe('berth_user');
  });

  it('prepares each statement once on a connection, and plans it from then on as PostgreSQL caches it', async () => {
    const authz = createAuthz(single);
    // A statement no other test sends: its text names it.
    const tag = `t${randomUUID().replaceAll('-', '')}`;
    const statement = sql`select /* ${sql.raw(tag)} */ count(*)::int as n from user_ssh_keys where user_id = ${alice}`;
    for (let i = 0; i < 3; i++) {
      expect(await authz.readAsUser(alice, statement, (row) => row.n)).toEqual([2]);
    }
    const prepared = (await single.db.execute(
      sql`select count(*)::int as n from pg_prepared_statements where name like 'berth_%' and strpos(statement, ${tag}) > 0`,
    )) as unknown as { rows: { n: number }[] };
    expect(prepared.rows[0]?.n).toBe(1);
    // A statement PostgreSQL cannot prepare (its value's type is unknown) still runs.
    const [echo] = await authz.readAsUser(alice, sql`select ${'untyped'} as v`, (row) => row.v);
    expect(echo).toBe('untyped');
  });

  it('drops a prepared statement a migration made stale, and prepares it afresh on the retry', async () => {
    const authz = createAuthz(single);
    const table = `plan_probe_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    for (const ddl of [
      `create table ${table} (a int)`,
      `insert into ${table} values (1)`,
      `grant select on ${table} to berth_user`,
    ]) {
      await single.db.execute(sql.raw(ddl));
    }
    const read = () => authz.readAsUser(alice, sql`select * from ${sql.identifier(table)}`, (row) => row);
    expect(await read()).toEqual([{ a: 1 }]);
    await single.db.execute(sql.raw(`alter table ${table} add column b int`));
    await expect(read()).rejects.toThrow(/cached plan must not change result type/);
    expect(await read()).toEqual([{ a: 1, b: null }]);
  });

  it('writes quotes and backslashes into the statement as data', async () => {
    for (const value of ["it's", 'back\\slash', "\\'; select 1; --", "E'\\\\'"]) {
      const [echo] = await t.authz.readAsUser(alice, sql`select ${value}::text as v`, (row) => row.v);
      expect(echo).toBe(value);
    }
  });

  it('refuses a user id that is not a UUID before sending anything', async () => {
    await expect(t.authz.readAsUser("x'; drop table agents; --", sql`select 1`, (r) => r)).rejects.toThrow(
      TypeError,
    );
  });
});

describe.each(testEngines())('queryAsService on %s', (engine) => {
  let t: TestDatabase;
  let single: DatabaseHandle;

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    single = t.url ? await openDatabase({ kind: 'postgres', url: t.url, poolSize: 1 }) : t;
  }, 60_000);

  afterAll(async () => {
    if (single !== t) await single.close();
    await t?.close();
  });

  it('runs as the service role, named by its reason, and sees every user’s rows', async () => {
    const [alice, bob] = [await t.createUser(), await t.createUser()];
    await insertKey(t, alice, 'a');
    await insertKey(t, bob, 'b');
    const [who] = await t.authz.queryAsService(
      'test: who am I',
      sql`select current_user as role, current_setting('application_name') as app`,
      (row) => row,
    );
    expect(who).toEqual({ role: 'service_role', app: 'berth: test: who am I' });
    const owners = await t.authz.queryAsService(
      'test: everyone',
      sql`select distinct user_id from user_ssh_keys where user_id in (${alice}, ${bob})`,
      (row) => row.user_id,
    );
    expect(owners.sort()).toEqual([alice, bob].sort());
  });

  it('leaves neither the role nor its settings on the connection it used', async () => {
    const authz = createAuthz(single);
    await authz.queryAsService(
      'test: leave nothing',
      sql`select set_config('synchronous_commit', 'off', true)`,
      (r) => r,
    );
    const after = (await single.db.execute(
      sql`select current_user as role, current_setting('synchronous_commit') as sync`,
    )) as unknown as { rows: { role: string; sync: string }[] };
    expect(after.rows[0]?.role).not.toBe('service_role');
    expect(after.rows[0]?.sync).toBe('on');
  });

  it('needs a reason', async () => {
    await expect(t.authz.queryAsService('  ', sql`select 1`, (r) => r)).rejects.toThrow(TypeError);
  });
});

describe.each(testEngines())('scriptAsUser and scriptAsService on %s', (engine) => {
  let t: TestDatabase;

  beforeAll(async () => {
    t = await openTestDatabase(engine);
  }, 60_000);
  afterAll(async () => t?.close());

  const agentsOf = (userId: string) =>
    t.authz.readAsUser(userId, sql`select name from agents order by name`, (row) => row.name);

  it('commits its statements together and answers the rows of each', async () => {
    const alice = await t.createUser();
    const results = await t.authz.scriptAsUser(alice, [
      sql`insert into agents (user_id, name) values (${alice}, 'one') returning name`,
      sql`insert into agents (user_id, name) values (${alice}, 'two')`,
      sql`select count(*)::int as n from agents`,
    ]);
    expect(results).toEqual([[{ name: 'one' }], [], [{ n: 2 }]]);
    expect(await agentsOf(alice)).toEqual(['one', 'two']);
  });

  it('rolls back every statement when a later one fails', async () => {
    const alice = await t.createUser();
    const bob = await t.createUser();
    // The second insert writes a row for another user, which row-level security refuses.
    await expect(
      t.authz.scriptAsUser(alice, [
        sql`insert into agents (user_id, name) values (${alice}, 'kept?')`,
        sql`insert into agents (user_id, name) values (${bob}, 'not mine')`,
      ]),
    ).rejects.toThrow(/row-level security/);
    expect(await agentsOf(alice)).toEqual([]);
    expect(await agentsOf(bob)).toEqual([]);
  });

  it('does not change another user’s rows', async () => {
    const alice = await t.createUser();
    const bob = await t.createUser();
    await t.authz.scriptAsUser(alice, [sql`insert into agents (user_id, name) values (${alice}, 'a')`]);
    const [updated] = await t.authz.scriptAsUser(bob, [sql`update agents set name = 'taken' returning id`]);
    expect(updated).toEqual([]);
    expect(await agentsOf(alice)).toEqual(['a']);
  });

  it('runs service scripts as the service role, named by their reason', async () => {
    const [[who]] = (await t.authz.scriptAsService('test: script', [
      sql`select current_user as role, current_setting('application_name') as app`,
    ])) as [[unknown]];
    expect(who).toEqual({ role: 'service_role', app: 'berth: test: script' });
  });

  it('writes bytes, numbers, booleans, times and nulls into the statement as the values they are', async () => {
    const alice = await t.createUser();
    const bytes = Buffer.from([0, 1, 0x27, 0x5c, 0xff]);
    const at = new Date('2026-11-30T12:34:56.789Z');
    const [[row]] = (await t.authz.scriptAsUser(alice, [
      sql`select encode(${bytes}::bytea, 'hex') as hex, ${-42}::int + 0 as n, ${true}::boolean as yes,
        ${at}::timestamptz = '2026-11-30T12:34:56.789Z'::timestamptz as same_time, ${null}::text is null as nothing`,
    ])) as [[unknown]];
    expect(row).toEqual({ hex: '0001275cff', n: -42, yes: true, same_time: true, nothing: true });
  });
});
