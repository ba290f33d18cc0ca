/**
 * Row-level security, tested through the database itself: user B cannot read, change or
 * delete user A's rows, whatever the application code does. Each check also asserts
 * that A can reach A's own rows, so that each test fails when the policy it covers is
 * dropped (A loses access) or RLS is disabled (B gains it); the last tests prove that
 * by breaking the policies and watching the same checks fail.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsFolder } from '../../src/db/migrate.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';

type Row = Record<string, unknown>;
const rowsOf = (result: unknown) => (result as { rows: Row[] }).rows;

interface TableCase {
  table: string;
  owner: string;
  insert(userId: string, id: string): ReturnType<typeof sql>;
  update: string;
  /** No user may change `update` at all (vault secrets, migration 0007): refused, not filtered. */
  updateRefused?: boolean;
}

const tables: TableCase[] = [
  {
    table: 'user_ssh_keys',
    owner: 'user_id',
    insert: (
      userId,
      id,
    ) => sql`insert into user_ssh_keys (id, user_id, algorithm, source, public_key, fingerprint_sha256, fingerprint_md5)
      values (${id}, ${userId}, 'ed25519', 'imported', 'ssh-ed25519 AAAA', ${`SHA256:${id}`}, ${id})`,
    update: 'key_name',
  },
  {
    table: 'agents',
    owner: 'user_id',
    insert: (userId, id) => sql`insert into agents (id, user_id, name) values (${id}, ${userId}, 'agent')`,
    update: 'name',
  },
  {
    table: 'vault_secrets',
    owner: 'owner_id',
    insert: (
      userId,
      id,
    ) => sql`insert into vault_secrets (id, owner_id, name, key_id, wrapped_key, nonce, ciphertext)
      values (${id}, ${userId}, 'secret', 'k1', '\\x00', '\\x00', '\\x00')`,
    update: 'name',
    updateRefused: true,
  },
  {
    table: 'agent_droplets',
    owner: 'user_id',
    insert: (
      userId,
      id,
    ) => sql`with agent as (insert into agents (user_id, name) values (${userId}, 'a') returning id)
      insert into agent_droplets (id, agent_id, user_id, name, region, size, image, deploy_tag)
      select ${id}, agent.id, ${userId}, 'env', 'nyc3', 's-1vcpu-1gb', 'ubuntu-24-04-x64', ${`berth-deploy:${id}`} from agent`,
    update: 'name',
  },
];

/** Returns the ways isolation is broken for one table; an empty list means it holds. */
async function isolationProblems(t: TestDatabase, c: TableCase): Promise<string[]> {
  const a = await t.createUser();
  const b = await t.createUser();
  const id = randomUUID();
  const problems: string[] = [];
  try {
    await t.authz.withUser(a, (tx) => tx.execute(c.insert(a, id)));
  } catch {
    problems.push('A cannot insert its own row');
    return problems;
  }
  const select = sql.raw(`select id from ${c.table} where id = '${id}'`);
  if (rowsOf(await t.authz.withUser(a, (tx) => tx.execute(select))).length !== 1)
    problems.push('A cannot read its own row');
  if (rowsOf(await t.authz.withUser(b, (tx) => tx.execute(select))).length !== 0)
    problems.push('B reads A’s row');
  const update = sql.raw(
    `update ${c.table} set ${c.update} = 'changed by B' where id = '${id}' returning id`,
  );
  try {
    if (rowsOf(await t.authz.withUser(b, (tx) => tx.execute(update))).length !== 0)
      problems.push('B changes A’s row');
  } catch (error) {
    if (!c.updateRefused) throw error;
  }
  const remove = sql.raw(`delete from ${c.table} where id = '${id}' returning id`);
  if (rowsOf(await t.authz.withUser(b, (tx) => tx.execute(remove))).length !== 0)
    problems.push('B deletes A’s row');
  const steal = sql.raw(`update ${c.table} set ${c.owner} = '${b}' where id = '${id}' returning id`);
  try {
    if (rowsOf(await t.authz.withUser(a, (tx) => tx.execute(steal))).length !== 0)
      problems.push('A gives its row to B');
  } catch {
    // WITH CHECK refused the change of owner, which is what should happen.
  }
  try {
    await t.authz.withUser(b, (tx) => tx.execute(c.insert(a, randomUUID())));
    problems.push('B inserts a row owned by A');
  } catch {
    // Refused by WITH CHECK.
  }
  return problems;
}

async function restorePolicies(t: TestDatabase) {
  for (const file of [
    '0002_rls_and_grants.sql',
    '0004_rls_environments.sql',
    '0007_user_write_guards.sql',
    '0008_berth_user_role.sql',
  ]) {
    const text = readFileSync(join(migrationsFolder, file), 'utf8');
    for (const statement of text.split('--> statement-breakpoint')) {
      if (statement.trim()) await t.db.execute(sql.raw(statement));
    }
  }
}

describe.each(testEngines())('row-level security on %s', (engine: EngineName) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterAll(() => t.close());

  for (const c of tables) {
    it(`keeps user B away from user A's ${c.table}`, async () => {
      expect(await isolationProblems(t, c)).toEqual([]);
    });
  }

  it('lets users read and append only their own audit rows', async () => {
    const a = await t.createUser();
    const b = await t.createUser();
    const insert = (owner: string) =>
      sql`insert into ssh_key_audit_log (user_id, actor, operation, outcome) values (${owner}, 'test', 'key.generated', 'success')`;
    await t.authz.withUser(a, (tx) => tx.execute(insert(a)));
    const read = sql`select id from ssh_key_audit_log where user_id = ${a}`;
    expect(rowsOf(await t.authz.withUser(a, (tx) => tx.execute(read)))).toHaveLength(1);
    expect(rowsOf(await t.authz.withUser(b, (tx) => tx.execute(read)))).toHaveLength(0);
    await expect(t.authz.withUser(b, (tx) => tx.execute(insert(a)))).rejects.toThrow();
  });

  it('detects the break when the audit log’s or onboarding’s policies are dropped or RLS disabled', async () => {
    for (const table of ['ssh_key_audit_log', 'user_onboarding']) {
      const a = await t.createUser();
      const b = await t.createUser();
      await t.authz.asService('test: seed a row', (tx) =>
        tx.execute(
          table === 'user_onboarding'
            ? sql`insert into user_onboarding (user_id, status) values (${a}, 'pending')`
            : sql`insert into ssh_key_audit_log (user_id, actor, operation, outcome) values (${a}, 'test', 'key.generated', 'success')`,
        ),
      );
      const read = sql.raw(`select user_id from ${table} where user_id = '${a}'`);
      const seenBy = async (user: string) =>
        rowsOf(await t.authz.withUser(user, (tx) => tx.execute(read))).length;
      expect([await seenBy(a), await seenBy(b)]).toEqual([1, 0]);
      try {
        const policies = rowsOf(
          await t.db.execute(sql`select policyname from pg_policies where tablename = ${table}`),
        );
        for (const p of policies)
          await t.db.execute(sql.raw(`drop policy ${p.policyname as string} on ${table}`));
        expect(await seenBy(a)).toBe(0);
        await restorePolicies(t);
        await t.db.execute(sql.raw(`alter table ${table} disable row level security`));
        expect(await seenBy(b)).toBe(1);
      } finally {
        await restorePolicies(t);
      }
      expect([await seenBy(a), await seenBy(b)]).toEqual([1, 0]);
    }
  });

  it('lets users read only their own onboarding state and never write it', async () => {
    const a = await t.createUser();
    const b = await t.createUser();
    await t.authz.asService('test: seed onboarding', (tx) =>
      tx.execute(sql`insert into user_onboarding (user_id, status) values (${a}, 'pending')`),
    );
    const read = sql`select status from user_onboarding where user_id = ${a}`;
    expect(rowsOf(await t.authz.withUser(a, (tx) => tx.execute(read)))).toEqual([{ status: 'pending' }]);
    expect(rowsOf(await t.authz.withUser(b, (tx) => tx.execute(read)))).toEqual([]);
    await expect(
      t.authz.withUser(a, (tx) =>
        tx.execute(sql`update user_onboarding set status = 'ready' where user_id = ${a}`),
      ),
    ).rejects.toThrow();
  });

  it('keeps service-only tables out of users’ reach', async () => {
    const a = await t.createUser();
    for (const table of ['do_api_calls', 'auth_refresh_tokens', 'droplet_credentials']) {
      await expect(
        t.authz.withUser(a, (tx) => tx.execute(sql.raw(`select * from ${table}`))),
      ).rejects.toThrow();
    }
  });

  /** drizzle wraps the database's error; its cause carries the guard's own message. */
  const refusal = (message: RegExp) => ({
    cause: expect.objectContaining({ message: expect.stringMatching(message) }),
  });

  /** The guards of migration 0007, each checked with its guard in place and without it. */
  async function withoutGuard(ddl: string, check: () => Promise<void>) {
    try {
      await t.db.execute(sql.raw(ddl));
      await check();
    } finally {
      await restorePolicies(t);
    }
  }

  async function keyWithSecret(user: string, downloaded: boolean) {
    const keyId = randomUUID();
    const secretId = randomUUID();
    await t.authz.withUser(user, async (tx) => {
      await tx.execute(sql`insert into vault_secrets (id, owner_id, name, key_id, wrapped_key, nonce, ciphertext)
        values (${secretId}, ${user}, 'secret', 'k1', '\\x00', '\\x00', '\\x00')`);
      await tx.execute(sql`insert into user_ssh_keys (id, user_id, algorithm, source, public_key, fingerprint_sha256,
          fingerprint_md5, private_key_secret_id, private_key_downloaded_at)
        values (${keyId}, ${user}, 'ed25519', 'generated', 'ssh-ed25519 AAAA', ${`SHA256:${keyId}`}, ${keyId},
          ${secretId}, ${downloaded ? sql`now()` : null})`);
    });
    return { keyId, secretId };
  }

  it('keeps a private key’s download one-time, whoever writes the row', async () => {
    const a = await t.createUser();
    const { keyId } = await keyWithSecret(a, true);
    const undo = sql`update user_ssh_keys set private_key_downloaded_at = null where id = ${keyId}`;
    await expect(t.authz.withUser(a, (tx) => tx.execute(undo))).rejects.toMatchObject(
      refusal(/recorded once/),
    );
    // Columns berth never changes for a user are not the user's to change either.
    await expect(
      t.authz.withUser(a, (tx) =>
        tx.execute(sql`update user_ssh_keys set public_key = 'ssh-ed25519 BBBB' where id = ${keyId}`),
      ),
    ).rejects.toThrow();
    // What berth's user paths do write still works: a rename, the DigitalOcean id.
    const rename = sql`update user_ssh_keys set key_name = 'laptop', digitalocean_key_id = 7 where id = ${keyId} returning id`;
    expect(rowsOf(await t.authz.withUser(a, (tx) => tx.execute(rename)))).toHaveLength(1);
    await withoutGuard('drop trigger user_ssh_keys_guard_update on user_ssh_keys', async () => {
      await t.authz.withUser(a, (tx) => tx.execute(undo));
    });
  });

  it('deletes a key’s vault secret with the key, so no later key can point at it', async () => {
    const a = await t.createUser();
    const secretCount = (id: string) =>
      t.authz.asService('test: count secrets', (tx) =>
        tx.execute(sql`select id from vault_secrets where id = ${id}`).then((r) => rowsOf(r).length),
      );
    const first = await keyWithSecret(a, true);
    // A second key on the same secret is refused while the first holds it.
    const reuse = (secretId: string) =>
      t.authz.withUser(a, (tx) =>
        tx.execute(sql`insert into user_ssh_keys (user_id, algorithm, source, public_key, fingerprint_sha256,
            fingerprint_md5, private_key_secret_id)
          values (${a}, 'ed25519', 'generated', 'ssh-ed25519 AAAA', ${`SHA256:${randomUUID()}`}, 'x', ${secretId})`),
      );
    await expect(reuse(first.secretId)).rejects.toThrow();
    // A key deleted behind berth's back takes its secret with it.
    await t.authz.withUser(a, (tx) => tx.execute(sql`delete from user_ssh_keys where id = ${first.keyId}`));
    expect(await secretCount(first.secretId)).toBe(0);
    await expect(reuse(first.secretId)).rejects.toThrow();
    const second = await keyWithSecret(a, true);
    await withoutGuard('drop trigger user_ssh_keys_delete_secret on user_ssh_keys', async () => {
      await t.authz.withUser(a, (tx) =>
        tx.execute(sql`delete from user_ssh_keys where id = ${second.keyId}`),
      );
      expect(await secretCount(second.secretId)).toBe(1);
    });
  });

  it('deletes only the key’s own user’s secret with it, not one another row named', async () => {
    const a = await t.createUser();
    const operatorSecret = randomUUID();
    await t.authz.asService('test: an operator secret', (tx) =>
      tx.execute(sql`insert into vault_secrets (id, owner_id, name, key_id, wrapped_key, nonce, ciphertext)
        values (${operatorSecret}, null, 'operator', 'k1', '\\x00', '\\x00', '\\x00')`),
    );
    // The foreign key ignores row-level security: a row can name a secret its user cannot see.
    const keyId = randomUUID();
    await t.authz.withUser(a, (tx) =>
      tx.execute(sql`insert into user_ssh_keys (id, user_id, algorithm, source, public_key, fingerprint_sha256,
          fingerprint_md5, private_key_secret_id)
        values (${keyId}, ${a}, 'ed25519', 'generated', 'ssh-ed25519 AAAA', ${`SHA256:${keyId}`}, 'x', ${operatorSecret})`),
    );
    await t.authz.withUser(a, (tx) => tx.execute(sql`delete from user_ssh_keys where id = ${keyId}`));
    const left = await t.authz.asService('test: the operator secret', (tx) =>
      tx.execute(sql`select id from vault_secrets where id = ${operatorSecret}`),
    );
    expect(rowsOf(left)).toHaveLength(1);
  });

  it('never lets a user set which droplet an environment has', async () => {
    const a = await t.createUser();
    const [agent] = rowsOf(
      await t.authz.withUser(a, (tx) =>
        tx.execute(sql`insert into agents (user_id, name) values (${a}, 'a') returning id`),
      ),
    );
    const insert = (dropletId: number | null) =>
      t.authz.withUser(a, (tx) =>
        tx.execute(sql`insert into agent_droplets (agent_id, user_id, name, region, size, image, deploy_tag, droplet_id)
          values (${agent?.id}, ${a}, 'env', 'nyc3', 's-1vcpu-1gb', 'img', ${`berth-deploy:${randomUUID()}`}, ${dropletId})
          returning id`),
      );
    await expect(insert(424242)).rejects.toMatchObject(refusal(/only berth records/));
    // Nor point a teardown at every droplet of the account or of a user by their tag.
    for (const tag of ['berth', `user:${a}`]) {
      await expect(
        t.authz.withUser(a, (tx) =>
          tx.execute(sql`insert into agent_droplets (agent_id, user_id, name, region, size, image, deploy_tag)
            values (${agent?.id}, ${a}, 'env', 'nyc3', 's-1vcpu-1gb', 'img', ${tag})`),
        ),
      ).rejects.toMatchObject(refusal(/deploy tag is one berth made/));
    }
    const [env] = rowsOf(await insert(null));
    const point = sql`update agent_droplets set droplet_id = 424242 where id = ${env?.id}`;
    await expect(t.authz.withUser(a, (tx) => tx.execute(point))).rejects.toMatchObject(
      refusal(/only berth records/),
    );
    // berth's service records the droplet it created, and a user's retry clears it.
    await t.authz.asService('test: record droplet', (tx) => tx.execute(point));
    const clear = sql`update agent_droplets set droplet_id = null where id = ${env?.id} returning id`;
    expect(rowsOf(await t.authz.withUser(a, (tx) => tx.execute(clear)))).toHaveLength(1);
    await withoutGuard('drop trigger agent_droplets_guard_user_write on agent_droplets', async () => {
      await t.authz.withUser(a, (tx) => tx.execute(point));
    });
  });

  it('lets the named service role see every user’s rows', async () => {
    const a = await t.createUser();
    const id = randomUUID();
    await t.authz.withUser(a, (tx) =>
      tx.execute(sql`insert into agents (id, user_id, name) values (${id}, ${a}, 'x')`),
    );
    const seen = await t.authz.asService('test: read all agents', (tx) =>
      tx.execute(sql`select id from agents where id = ${id}`),
    );
    expect(rowsOf(seen)).toHaveLength(1);
  });

  it('refuses a user id that is not a UUID before any query', async () => {
    await expect(t.authz.withUser("x' or true --", async () => 1)).rejects.toThrow(TypeError);
  });

  for (const c of tables) {
    it(`detects the break when ${c.table}'s policy is dropped or RLS disabled`, async () => {
      const policy = rowsOf(
        await t.db.execute(sql`select policyname from pg_policies where tablename = ${c.table}`),
      );
      try {
        for (const p of policy)
          await t.db.execute(sql.raw(`drop policy ${p.policyname as string} on ${c.table}`));
        expect(await isolationProblems(t, c)).not.toEqual([]);
        await restorePolicies(t);
        await t.db.execute(sql.raw(`alter table ${c.table} disable row level security`));
        expect(await isolationProblems(t, c)).toContain('B reads A’s row');
      } finally {
        await restorePolicies(t);
      }
      expect(await isolationProblems(t, c)).toEqual([]);
    });
  }
});
