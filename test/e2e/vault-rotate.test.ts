/**
 * `berth vault rotate` as an operator runs it: the real command in a process of its own.
 * On PostgreSQL, a rotation killed with SIGKILL half-way resumes when run again, ends
 * with every secret under the newest master key and still readable, and a third run
 * changes nothing. Embedded, while berth serves (and so holds the data directory), the
 * command has that berth rotate, shows its progress, and changes nothing the second time.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Authz, createAuthz } from '../../src/db/authz.ts';
import { openDatabase } from '../../src/db/engine.ts';
import { runMigrations } from '../../src/db/migrate.ts';
import { vaultSecrets } from '../../src/db/schema.ts';
import { openSecret, sealSecret } from '../../src/domain/vault/envelope.ts';
import {
  createKeyring,
  formatMasterKey,
  generateMasterKey,
  type Keyring,
} from '../../src/domain/vault/keyring.ts';
import { ensureUserRow } from '../../src/store/users.ts';
import { type BerthProcess, runBerthCommand, spawnBerth } from '../support/berth-process.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';

const serverUrl = process.env.TEST_DATABASE_URL;
if (!serverUrl && process.env.CI) throw new Error('TEST_DATABASE_URL must be set in CI');

const k1 = generateMasterKey('k1');
const k2 = generateMasterKey('k2');
const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;

/** Seals `count` secrets under `keyring` for `owners`, many rows to a statement. */
async function seedSecrets(authz: Authz, keyring: Keyring, owners: string[], count: number) {
  const secrets = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    ownerId: owners[i % owners.length] as string,
    value: `secret-${i}-${randomUUID()}`,
  }));
  for (let i = 0; i < count; i += 1000) {
    const rows = secrets.slice(i, i + 1000).map((s) => {
      const sealed = sealSecret(keyring, s, Buffer.from(s.value));
      return { id: s.id, ownerId: s.ownerId, name: 'test', ...sealed };
    });
    await authz.asService('test: seed secrets', (tx) => tx.insert(vaultSecrets).values(rows));
  }
  return secrets;
}

/** Every secret's key id and wrapped data key, in id order: what a rotation changes. */
async function snapshot(authz: Authz) {
  return rowsOf<{ id: string; key_id: string; wrapped_key: string; updated_at: string }>(
    await authz.asService('test: snapshot', (tx) =>
      tx.execute(
        sql`select id, key_id, encode(wrapped_key, 'hex') as wrapped_key, updated_at::text from vault_secrets order by id`,
      ),
    ),
  );
}

const countByKey = async (authz: Authz) =>
  Object.fromEntries(
    rowsOf<{ key_id: string; n: number }>(
      await authz.asService('test: count by key', (tx) =>
        tx.execute(sql`select key_id, count(*)::int as n from vault_secrets group by key_id`),
      ),
    ).map((r) => [r.key_id, r.n]),
  );

const progressLine = /^re-wrapping under k2: (\d+)\/(\d+)$/;

describe.runIf(serverUrl)('berth vault rotate on PostgreSQL', { timeout: 180_000 }, () => {
  let t: TestDatabase;
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    t = await openTestDatabase('postgres');
    dataDir = mkdtempSync(join(tmpdir(), 'berth-rotate-'));
    env = {
      DATABASE_URL: t.url as string,
      BERTH_DATA_DIR: dataDir,
      BERTH_MASTER_KEYS: [k2, k1].map(formatMasterKey).join(','),
    };
  });
  afterAll(async () => {
    await t?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('resumes after a SIGKILL half-way, ends with every secret under the newest key and readable, and a third run changes nothing', async () => {
    const owners = await Promise.all(Array.from({ length: 10 }, () => t.createUser()));
    const secrets = await seedSecrets(t.authz, createKeyring([k1]), owners, 2000);

    // The first run is held at its first batch by a table lock until its throttled
    // progress lines may print again, then let go: the line it prints for that batch is
    // where it is killed, with no chance to clean up, a few batches in.
    const hold = new pg.Client({ connectionString: t.url as string });
    await hold.connect();
    await hold.query('begin');
    await hold.query('lock table vault_secrets in exclusive mode');
    const first = runBerthCommand(['vault', 'rotate', '--batch-size', '1'], env);
    try {
      await first.line((line) => line === `re-wrapping under k2: 0/${secrets.length}`);
      await sleep(1100);
    } finally {
      await hold.query('commit');
      await hold.end();
    }
    await first.line((line) => Number(progressLine.exec(line)?.[1]) > 0);
    await first.kill();
    const afterKill = await countByKey(t.authz);
    expect(afterKill.k2, 'the killed run committed some batches').toBeGreaterThan(0);
    expect(afterKill.k1, 'the killed run stopped half-way').toBeGreaterThan(0);

    const second = await runBerthCommand(['vault', 'rotate', '--batch-size', '50'], env).exited;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe(`${afterKill.k1} secret(s) re-wrapped under k2\n`);
    expect(await countByKey(t.authz)).toEqual({ k2: secrets.length });
    // k1 can be retired: every secret opens with k2 alone.
    const k2Only = createKeyring([k2]);
    const stored = await t.authz.asService('test: read every secret', (tx) => tx.select().from(vaultSecrets));
    const opened = new Map(stored.map((row) => [row.id, openSecret(k2Only, row, row).toString()]));
    expect(opened).toEqual(new Map(secrets.map((s) => [s.id, s.value])));

    const before = await snapshot(t.authz);
    const third = await runBerthCommand(['vault', 'rotate'], env).exited;
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toBe('0 secret(s) re-wrapped under k2\n');
    expect(await snapshot(t.authz)).toEqual(before);
  });
});

describe('berth vault rotate while an embedded berth serves', { timeout: 180_000 }, () => {
  const secret = randomBytes(32).toString('hex');
  let dataDir: string;
  let env: Record<string, string>;
  let berth: BerthProcess | undefined;
  let secrets: { id: string; value: string }[];

  /** The data directory's database, opened by this test while no berth holds it. */
  async function withEmbedded<T>(fn: (authz: Authz) => Promise<T>): Promise<T> {
    const database = await openDatabase({ kind: 'pglite', dataDir });
    try {
      await runMigrations(database.engine);
      return await fn(createAuthz(database));
    } finally {
      await database.close();
    }
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-rotate-embedded-'));
    secrets = await withEmbedded(async (authz) => {
      const owners = Array.from({ length: 3 }, () => randomUUID());
      for (const id of owners) {
        await authz.asService('test: user', (tx) => ensureUserRow(tx, { id, email: `${id}@example.test` }));
      }
      return seedSecrets(authz, createKeyring([k1]), owners, 300);
    });
    env = {
      BERTH_DATA_DIR: dataDir,
      BERTH_MASTER_KEYS: [k2, k1].map(formatMasterKey).join(','),
      BERTH_INTERNAL_API_SECRET: secret,
      BERTH_EMULATOR_SSH_PORT: '0',
    };
    berth = await spawnBerth(env);
  });
  afterAll(async () => {
    await berth?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it.each([
    [
      'without the internal API secret',
      { BERTH_INTERNAL_API_SECRET: '' },
      'give this command its BERTH_INTERNAL_API_SECRET to rotate through it',
    ],
    [
      'with another secret',
      { BERTH_INTERNAL_API_SECRET: 'x'.repeat(64) },
      "refused this command's BERTH_INTERNAL_API_SECRET",
    ],
    [
      'with a newer key than the serving berth has',
      { BERTH_MASTER_KEYS: [generateMasterKey('k3'), k2, k1].map(formatMasterKey).join(',') },
      'newest master key is "k2", not "k3": restart it with the new keys',
    ],
  ])('refuses, saying what to do, when run %s', async (_, change: Record<string, string>, message) => {
    const run = await runBerthCommand(['vault', 'rotate'], { ...env, ...change }).exited;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe('');
  });

  it('has the serving berth rotate, shows its progress, and changes nothing the second time', async () => {
    const first = await runBerthCommand(['vault', 'rotate', '--batch-size', '40'], env).exited;
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(
      `berth (pid ${berth?.child.pid}) is serving ${dataDir}: the rotation runs in it`,
    );
    expect(first.stderr).toContain(`re-wrapping under k2: 0/${secrets.length}\n`);
    expect(first.stderr).toContain(`re-wrapping under k2: ${secrets.length}/${secrets.length}\n`);
    expect(first.stdout).toBe(`${secrets.length} secret(s) re-wrapped under k2\n`);
    const health = await fetch(`${berth?.url}/readyz`);
    expect(health.status, 'berth served on through the rotation').toBe(200);

    const second = await runBerthCommand(['vault', 'rotate'], env).exited;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe('0 secret(s) re-wrapped under k2\n');

    await berth?.stop();
    const stored = await withEmbedded((authz) =>
      authz.asService('test: read every secret', (tx) => tx.select().from(vaultSecrets)),
    );
    const k2Only = createKeyring([k2]);
    expect(new Set(stored.map((row) => row.keyId))).toEqual(new Set(['k2']));
    expect(new Map(stored.map((row) => [row.id, openSecret(k2Only, row, row).toString()]))).toEqual(
      new Map(secrets.map((s) => [s.id, s.value])),
    );
  });
});
