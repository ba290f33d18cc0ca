/**
 * `withUser` and `asService` transactions, which on PostgreSQL berth opens itself (BEGIN
 * and the settings in one round trip) instead of through drizzle: they commit, roll back
 * on failure, support nested savepoints, and hand the connection back clean whatever
 * happened, so the next transaction on it starts from nothing.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Authz, createAuthz } from '../../src/db/authz.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/engine.ts';
import { openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';

type Row = Record<string, unknown>;
const rowsOf = (result: unknown) => (result as { rows: Row[] }).rows;

describe.each(testEngines())('transactions on %s', (engine) => {
  let t: TestDatabase;
  // One connection, so that whatever a transaction left behind, the next one would meet.
  let single: DatabaseHandle;
  let authz: Authz;
  let alice: string;

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    single = t.url ? await openDatabase({ kind: 'postgres', url: t.url, poolSize: 1 }) : t;
    authz = createAuthz(single);
    alice = await t.createUser();
  }, 60_000);

  afterAll(async () => {
    if (single !== t) await single.close();
    await t?.close();
  });

  const agentNames = async () =>
    rowsOf(await t.db.execute(sql`select name from agents where user_id = ${alice} order by name`)).map(
      (r) => r.name,
    );
  const addAgent = (name: string) => (tx: Parameters<Parameters<Authz['withUser']>[1]>[0]) =>
    tx.execute(sql`insert into agents (id, user_id, name) values (${randomUUID()}, ${alice}, ${name})`);

  it('runs as the user, and commits', async () => {
    const who = await authz.withUser(alice, async (tx) => {
      await addAgent('committed')(tx);
      return rowsOf(await tx.execute(sql`select current_user as role, auth.uid()::text as uid`))[0];
    });
    expect(who).toEqual({ role: 'berth_user', uid: alice });
    expect(await agentNames()).toContain('committed');
  });

  it('rolls back everything when the callback fails, and leaves the connection clean', async () => {
    await expect(
      authz.withUser(alice, async (tx) => {
        await addAgent('rolled back')(tx);
        await tx.execute(sql`select 1/0`);
      }),
    ).rejects.toThrow(/select 1\/0/);
    expect(await agentNames()).not.toContain('rolled back');
    const after = rowsOf(
      await single.db.execute(
        sql`select current_user as role, current_setting('request.jwt.claims', true) as c`,
      ),
    )[0];
    expect(after?.role).not.toBe('berth_user');
    expect(after?.c ?? '').toBe('');
  });

  it('rolls back a nested transaction alone', async () => {
    await authz.withUser(alice, async (tx) => {
      await addAgent('outer')(tx);
      await tx
        .transaction(async (inner) => {
          await addAgent('inner')(inner);
          throw new Error('inner fails');
        })
        .catch(() => {});
    });
    const names = await agentNames();
    expect(names).toContain('outer');
    expect(names).not.toContain('inner');
  });

  it('runs a service transaction as the service role under its reason', async () => {
    const row = await authz.asService('test: reason', async (tx) =>
      rowsOf(await tx.execute(sql`select current_user as role, current_setting('application_name') as app`)),
    );
    expect(row[0]).toEqual({ role: 'service_role', app: 'berth: test: reason' });
  });

  it('keeps working after many transactions on one connection, failed ones among them', async () => {
    for (let i = 0; i < 20; i++) {
      await authz
        .withUser(alice, async (tx) => {
          if (i % 3 === 0) await tx.execute(sql`select 1/0`);
        })
        .catch(() => {});
    }
    const [row] = await authz.readAsUser(alice, sql`select auth.uid()::text as uid`, (r) => r);
    expect(row).toEqual({ uid: alice });
  });
});
