/**
 * What a client of Supabase's Data API can do with a user's token (migration 0008).
 * PostgREST runs such a client's requests as `authenticated` with the token's claims,
 * the role berth's own user paths used to write as; they now write as `berth_user`, and
 * `authenticated` may read its own rows of berth's tables and change none. Each refusal
 * is checked against a row berth itself wrote, which the client can read, and the last
 * test restores one write grant to show these checks would catch it.
 */
import { randomUUID } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  asDataApiClient,
  type EngineName,
  openTestDatabase,
  type TestDatabase,
  testEngines,
} from '../support/db.ts';

type Row = Record<string, unknown>;
const rowsOf = (result: unknown) => (result as { rows: Row[] }).rows;

/** PostgreSQL's code for a privilege refused, as drizzle's error carries it. */
const PRIVILEGE_REFUSED = { cause: expect.objectContaining({ code: '42501' }) };

describe.each(testEngines())('the Data API role on %s', (engine: EngineName) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterAll(() => t.close());

  const asDataApi = (userId: string, statement: SQL) => asDataApiClient(t.db, userId, statement);

  /** A user with a key, its secret, an agent, an environment and an audit row, all written by berth. */
  async function userWithRows() {
    const user = await t.createUser();
    const ids = { key: randomUUID(), secret: randomUUID(), agent: randomUUID(), env: randomUUID() };
    await t.authz.withUser(user, async (tx) => {
      await tx.execute(sql`insert into vault_secrets (id, owner_id, name, key_id, wrapped_key, nonce, ciphertext)
        values (${ids.secret}, ${user}, 'secret', 'k1', '\\x01', '\\x02', '\\x03')`);
      await tx.execute(sql`insert into user_ssh_keys (id, user_id, algorithm, source, public_key, fingerprint_sha256,
          fingerprint_md5, private_key_secret_id)
        values (${ids.key}, ${user}, 'ed25519', 'generated', 'ssh-ed25519 AAAA', ${`SHA256:${ids.key}`}, ${ids.key},
          ${ids.secret})`);
      await tx.execute(sql`insert into agents (id, user_id, name) values (${ids.agent}, ${user}, 'agent')`);
      await tx.execute(sql`insert into agent_droplets (id, agent_id, user_id, name, region, size, image, deploy_tag)
        values (${ids.env}, ${ids.agent}, ${user}, 'env', 'nyc3', 's-1vcpu-1gb', 'ubuntu-24-04-x64',
          ${`berth-deploy:${ids.env}`})`);
      await tx.execute(sql`insert into ssh_key_audit_log (user_id, actor, operation, outcome, ssh_key_id)
        values (${user}, 'test', 'key.generated', 'success', ${ids.key})`);
    });
    return { user, ...ids };
  }

  it('runs berth’s own user paths as berth_user, with the user’s claims', async () => {
    const user = await t.createUser();
    const [who] = await t.authz.withUser(user, async (tx) =>
      rowsOf(
        await tx.execute(sql`select current_user as role, auth.uid()::text as uid, auth.role() as claim`),
      ),
    );
    expect(who).toEqual({ role: 'berth_user', uid: user, claim: 'authenticated' });
  });

  it('lets a Data API client read its own rows of every berth table, and no one else’s', async () => {
    const a = await userWithRows();
    const b = await t.createUser();
    const reads: [string, SQL][] = [
      ['user_ssh_keys', sql`select id from user_ssh_keys where id = ${a.key}`],
      ['vault_secrets', sql`select id from vault_secrets where id = ${a.secret}`],
      ['agents', sql`select id from agents where id = ${a.agent}`],
      ['agent_droplets', sql`select id from agent_droplets where id = ${a.env}`],
      ['ssh_key_audit_log', sql`select id from ssh_key_audit_log where ssh_key_id = ${a.key}`],
    ];
    for (const [table, read] of reads) {
      expect([table, (await asDataApi(a.user, read)).length]).toEqual([table, 1]);
      expect([table, (await asDataApi(b, read)).length]).toEqual([table, 0]);
    }
  });

  it('refuses a Data API client every write to its own rows', async () => {
    const a = await userWithRows();
    const writes: [string, SQL][] = [
      ['rename a key', sql`update user_ssh_keys set key_name = 'x' where id = ${a.key}`],
      ['delete a key', sql`delete from user_ssh_keys where id = ${a.key}`],
      ['delete a secret', sql`delete from vault_secrets where id = ${a.secret}`],
      ['rename an agent', sql`update agents set name = 'x' where id = ${a.agent}`],
      ['add an agent', sql`insert into agents (user_id, name) values (${a.user}, 'x')`],
      ['delete an agent', sql`delete from agents where id = ${a.agent}`],
      ['change an environment', sql`update agent_droplets set status = 'deleted' where id = ${a.env}`],
      ['delete an environment', sql`delete from agent_droplets where id = ${a.env}`],
    ];
    for (const [what, write] of writes) {
      await expect(asDataApi(a.user, write), what).rejects.toMatchObject(PRIVILEGE_REFUSED);
    }
    // Everything berth wrote is still there.
    expect(await asDataApi(a.user, sql`select key_name from user_ssh_keys where id = ${a.key}`)).toEqual([
      { key_name: 'default' },
    ]);
    expect(await asDataApi(a.user, sql`select status from agent_droplets where id = ${a.env}`)).toHaveLength(
      1,
    );
  });

  it('cannot download a private key a second time by re-inserting its ciphertext under a new key', async () => {
    const a = await userWithRows();
    // The client keeps the ciphertext it may read; then the key goes, through berth, and
    // its secret with it.
    const [secret] = await asDataApi(a.user, sql`select * from vault_secrets where id = ${a.secret}`);
    expect(secret?.ciphertext).toBeDefined();
    await t.authz.withUser(a.user, (tx) => tx.execute(sql`delete from user_ssh_keys where id = ${a.key}`));
    expect(await asDataApi(a.user, sql`select id from vault_secrets where id = ${a.secret}`)).toEqual([]);
    // Putting the secret back, and a key row that names it, are both refused.
    await expect(
      asDataApi(
        a.user,
        sql`insert into vault_secrets (id, owner_id, name, key_id, wrapped_key, nonce, ciphertext)
          values (${a.secret}, ${a.user}, ${secret?.name as string}, ${secret?.key_id as string},
            '\\x01', '\\x02', '\\x03')`,
      ),
    ).rejects.toMatchObject(PRIVILEGE_REFUSED);
    await expect(
      asDataApi(
        a.user,
        sql`insert into user_ssh_keys (user_id, algorithm, source, public_key, fingerprint_sha256, fingerprint_md5,
            private_key_secret_id)
          values (${a.user}, 'ed25519', 'generated', 'ssh-ed25519 BBBB', ${`SHA256:${a.secret}`}, ${a.secret},
            ${a.secret})`,
      ),
    ).rejects.toMatchObject(PRIVILEGE_REFUSED);
  });

  it('cannot choose its environment’s size, region or image behind berth’s back', async () => {
    const a = await userWithRows();
    await expect(
      asDataApi(
        a.user,
        sql`update agent_droplets set size = 's-32vcpu-192gb', region = 'sgp1' where id = ${a.env}`,
      ),
    ).rejects.toMatchObject(PRIVILEGE_REFUSED);
    await expect(
      asDataApi(
        a.user,
        sql`insert into agent_droplets (agent_id, user_id, name, region, size, image, deploy_tag)
          values (${a.agent}, ${a.user}, 'big', 'nyc3', 's-32vcpu-192gb', 'img', ${`berth-deploy:${randomUUID()}`})`,
      ),
    ).rejects.toMatchObject(PRIVILEGE_REFUSED);
  });

  it('cannot append audit rows about itself', async () => {
    const a = await userWithRows();
    // Refused for want of the privilege, not only by row-level security (same error code).
    const [grant] = await asDataApi(
      a.user,
      sql`select has_table_privilege('ssh_key_audit_log', 'INSERT') as may_insert`,
    );
    expect(grant).toEqual({ may_insert: false });
    await expect(
      asDataApi(
        a.user,
        sql`insert into ssh_key_audit_log (user_id, actor, operation, outcome) values (${a.user}, 'me', 'key.deleted', 'success')`,
      ),
    ).rejects.toMatchObject(PRIVILEGE_REFUSED);
  });

  it('would notice a write grant given back to authenticated', async () => {
    const a = await userWithRows();
    const append = sql`insert into ssh_key_audit_log (user_id, actor, operation, outcome)
      values (${a.user}, 'me', 'key.deleted', 'success') returning id`;
    try {
      await t.db.execute(sql`grant insert on ssh_key_audit_log to authenticated`);
      // The policy that admits the append names berth_user alone, so the grant is not enough…
      await expect(asDataApi(a.user, append)).rejects.toMatchObject({
        cause: expect.objectContaining({ message: expect.stringMatching(/row-level security/) }),
      });
      await t.db.execute(
        sql`alter policy ssh_key_audit_log_write_own on ssh_key_audit_log to authenticated, berth_user`,
      );
      // …but with both undone, the append goes through, and the check above would fail.
      expect(await asDataApi(a.user, append)).toHaveLength(1);
    } finally {
      await t.db.execute(sql`revoke insert on ssh_key_audit_log from authenticated`);
      await t.db.execute(sql`alter policy ssh_key_audit_log_write_own on ssh_key_audit_log to berth_user`);
    }
    await expect(asDataApi(a.user, append)).rejects.toMatchObject(PRIVILEGE_REFUSED);
  });
});
