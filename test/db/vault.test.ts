import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultDecryptError, VaultMissingKeyError } from '../../src/domain/vault/envelope.ts';
import { createKeyring, generateMasterKey, type Keyring } from '../../src/domain/vault/keyring.ts';
import {
  assertKeyringCoversVault,
  rotateVault,
  VaultRotationIncompleteError,
} from '../../src/services/vault-rotation.ts';
import { DbSecretStore, EncryptedSecretStore } from '../../src/store/secrets.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';

// Tampering flips every bit of one stored byte: writing a fixed value instead
// changes nothing when the byte already holds it, one run in 256.
const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;
const raw = new DbSecretStore();
const storeWith = (keyring: Keyring) => new EncryptedSecretStore(raw, keyring);

/** Stores a fresh random secret for `owner` through the encrypted store. */
async function putSecretIn(t: TestDatabase, keyring: Keyring, owner: string) {
  const id = randomUUID();
  const value = `secret-${randomUUID()}`;
  await t.authz.withUser(owner, (tx) =>
    storeWith(keyring).insert(tx, {
      id,
      ownerId: owner,
      name: 'test',
      value: Buffer.from(value),
      keyId: null,
      wrappedKey: null,
      nonce: null,
    }),
  );
  return { id, value };
}

describe.each(testEngines())('vault on %s', (engine: EngineName) => {
  let t: TestDatabase;
  const k1 = generateMasterKey('k1');

  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterAll(() => t.close());

  const putSecret = (keyring: Keyring, owner: string) => putSecretIn(t, keyring, owner);

  it('stores no plaintext and reads it back through the encrypted store', async () => {
    const owner = await t.createUser();
    const { id, value } = await putSecret(createKeyring([k1]), owner);
    const stored = await t.authz.withUser(owner, (tx) => raw.get(tx, id));
    expect(stored?.keyId).toBe('k1');
    expect(stored?.value.includes(Buffer.from(value))).toBe(false);
    const read = await t.authz.withUser(owner, (tx) => storeWith(createKeyring([k1])).get(tx, id));
    expect(read?.value.toString()).toBe(value);
  });

  it('refuses a plaintext write below the encryption layer', async () => {
    const owner = await t.createUser();
    await expect(
      t.authz.withUser(owner, (tx) =>
        raw.insert(tx, {
          id: randomUUID(),
          ownerId: owner,
          name: 'x',
          value: Buffer.from('plain'),
          keyId: null,
          wrappedKey: null,
          nonce: null,
        }),
      ),
    ).rejects.toThrow();
  });

  it('gives a typed error when a stored byte is altered', async () => {
    const owner = await t.createUser();
    const { id } = await putSecret(createKeyring([k1]), owner);
    await t.authz.asService('test: tamper', (tx) =>
      tx.execute(
        sql`update vault_secrets set ciphertext = set_byte(ciphertext, 2, get_byte(ciphertext, 2) # 255) where id = ${id}`,
      ),
    );
    await expect(t.authz.withUser(owner, (tx) => storeWith(createKeyring([k1])).get(tx, id))).rejects.toThrow(
      VaultDecryptError,
    );
  });

  it('does not decrypt a ciphertext copied onto another row', async () => {
    const owner = await t.createUser();
    const a = await putSecret(createKeyring([k1]), owner);
    const b = await putSecret(createKeyring([k1]), owner);
    await t.authz.asService('test: copy ciphertext', (tx) =>
      tx.execute(sql`update vault_secrets set (key_id, wrapped_key, nonce, ciphertext) =
        (select key_id, wrapped_key, nonce, ciphertext from vault_secrets where id = ${a.id}) where id = ${b.id}`),
    );
    await expect(
      t.authz.withUser(owner, (tx) => storeWith(createKeyring([k1])).get(tx, b.id)),
    ).rejects.toThrow(VaultDecryptError);
  });
});

describe.each(testEngines())('vault rotation on %s', (engine: EngineName) => {
  let t: TestDatabase;
  const k1 = generateMasterKey('k1');
  const k2 = generateMasterKey('k2');

  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterAll(() => t.close());

  const putSecret = (keyring: Keyring, owner: string) => putSecretIn(t, keyring, owner);

  it('rotates every secret to the newest key, resumes after an interruption, and changes nothing the second time', async () => {
    const owner = await t.createUser();
    const secrets = await Promise.all(Array.from({ length: 7 }, () => putSecret(createKeyring([k1]), owner)));
    const rotated = createKeyring([k2, k1]);
    // A rotation killed after its first batch: the committed batch stays rotated.
    await expect(
      rotateVault(t.authz, rotated, {
        batchSize: 3,
        onProgress: ({ done }) => {
          if (done >= 3) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    const counts = async () =>
      rowsOf<{ key_id: string; n: number }>(
        await t.authz.asService('test: count by key', (tx) =>
          tx.execute(
            sql`select key_id, count(*)::int as n from vault_secrets group by key_id order by key_id`,
          ),
        ),
      );
    expect((await counts()).find((r) => r.key_id === 'k2')?.n).toBe(3);
    const resumed = await rotateVault(t.authz, rotated, { batchSize: 3 });
    expect(resumed.rewrapped).toBeGreaterThanOrEqual(4);
    expect((await counts()).map((r) => r.key_id)).toEqual(['k2']);
    const again = await rotateVault(t.authz, rotated);
    expect(again).toEqual({ rewrapped: 0, keyId: 'k2', failed: [] });
    // The old key can now be retired: everything opens with k2 alone.
    for (const s of secrets) {
      const read = await t.authz.withUser(owner, (tx) => storeWith(createKeyring([k2])).get(tx, s.id));
      expect(read?.value.toString()).toBe(s.value);
    }
  });

  /** Holds one vault row locked, as other work would, from a connection of its own. */
  async function lockRow(id: string) {
    const other = new pg.Client({ connectionString: t.url as string });
    await other.connect();
    await other.query('begin');
    await other.query('select 1 from vault_secrets where id = $1 for update', [id]);
    return {
      release: async () => {
        await other.query('commit');
        await other.end();
      },
    };
  }
  const keyIdOf = async (id: string) =>
    rowsOf<{ key_id: string }>(
      await t.authz.asService('test: key id', (tx) =>
        tx.execute(sql`select key_id from vault_secrets where id = ${id}`),
      ),
    )[0]?.key_id;

  it('stops between batches when its caller goes away, keeping what committed', async () => {
    const owner = await t.createUser();
    const secrets = await Promise.all(Array.from({ length: 6 }, () => putSecret(createKeyring([k1]), owner)));
    const caller = new AbortController();
    const stopped = await rotateVault(t.authz, createKeyring([k2, k1]), {
      batchSize: 2,
      signal: caller.signal,
      onProgress: ({ done }) => {
        if (done === 2) caller.abort();
      },
    }).catch((e: Error) => e);
    expect(stopped).toBeInstanceOf(Error);
    expect((stopped as Error).name).toBe('AbortError');
    const keys = await Promise.all(secrets.map((s) => keyIdOf(s.id)));
    expect(keys.filter((k) => k === 'k2')).toHaveLength(2);
  });

  // Only PostgreSQL has other connections: PGlite runs one transaction at a time, so these
  // two are defined for the server only (not skipped on PGlite: there is nothing to run).
  const onServer: typeof it | ((...args: unknown[]) => void) = engine === 'postgres' ? it : () => {};
  onServer('waits for a secret that other work holds locked and re-wraps it once released', async () => {
    const owner = await t.createUser();
    const [held, ...others] = await Promise.all(
      Array.from({ length: 5 }, () => putSecret(createKeyring([k1]), owner)),
    );
    const lock = await lockRow(held!.id);
    let released: Promise<void> | null = null;
    const result = await rotateVault(t.authz, createKeyring([k2, k1]), {
      batchSize: 2,
      retryDelayMs: 50,
      // Released only once the rotation has said it is waiting for the locked secret.
      onProgress: ({ waiting }) => {
        if (waiting === 1) released ??= lock.release();
      },
    }).finally(() => released ?? lock.release());
    expect(released).not.toBeNull();
    expect(result.failed.map((f) => f.id)).not.toContain(held!.id);
    for (const s of [held!, ...others]) expect(await keyIdOf(s.id)).toBe('k2');
  });

  onServer(
    'fails naming how many secrets are left when other work holds them longer than it waits',
    async () => {
      const owner = await t.createUser();
      const held = await putSecret(createKeyring([k1]), owner);
      const lock = await lockRow(held.id);
      try {
        const error = await rotateVault(t.authz, createKeyring([k2, k1]), {
          lockWaitMs: 300,
          retryDelayMs: 50,
        }).catch((e: Error) => e);
        expect(error).toBeInstanceOf(VaultRotationIncompleteError);
        expect((error as Error).message).toMatch(/^1 secret\(s\) are still under an older master key/);
      } finally {
        await lock.release();
      }
      expect(await keyIdOf(held.id)).toBe('k1');
      await rotateVault(t.authz, createKeyring([k2, k1]));
      expect(await keyIdOf(held.id)).toBe('k2');
    },
  );

  onServer(
    'gives each wait for locked secrets its own time when the rotation moves on between them',
    async () => {
      const owner = await t.createUser();
      const [first, second] = await Promise.all([
        putSecret(createKeyring([k1]), owner),
        putSecret(createKeyring([k1]), owner),
      ]);
      const locks = [await lockRow(first!.id), await lockRow(second!.id)];
      const releases = new Map<number, Promise<void>>();
      const holdThenRelease = (i: number) =>
        releases.set(
          i,
          new Promise((resolve) => setTimeout(resolve, 450)).then(() => locks[i]!.release()),
        );
      // Two waits of about 450 ms each: more than the 700 ms one wait may last, together.
      let waitsStarted = 0;
      let doneAtFirstWait = -1;
      const result = await rotateVault(t.authz, createKeyring([k2, k1]), {
        lockWaitMs: 700,
        retryDelayMs: 25,
        onProgress: ({ done, waiting }) => {
          if (!waiting) return;
          if (waitsStarted === 0) {
            waitsStarted = 1;
            doneAtFirstWait = done;
            holdThenRelease(0);
          } else if (waitsStarted === 1 && done > doneAtFirstWait) {
            waitsStarted = 2;
            holdThenRelease(1);
          }
        },
      }).finally(() => Promise.all(locks.map((lock, i) => releases.get(i) ?? lock.release())));
      expect(waitsStarted).toBe(2);
      expect(result.failed.map((f) => f.id)).not.toContain(first!.id);
      for (const s of [first!, second!]) expect(await keyIdOf(s.id)).toBe('k2');
    },
  );

  it('reports a secret it cannot open and rotates the others', async () => {
    const owner = await t.createUser();
    const good = await putSecret(createKeyring([k1]), owner);
    const bad = await putSecret(createKeyring([k1]), owner);
    await t.authz.asService('test: tamper', (tx) =>
      tx.execute(
        sql`update vault_secrets set wrapped_key = set_byte(wrapped_key, 19, get_byte(wrapped_key, 19) # 255) where id = ${bad.id}`,
      ),
    );
    const result = await rotateVault(t.authz, createKeyring([k2, k1]));
    expect(result.failed).toEqual([{ id: bad.id, reason: 'vault_decrypt_failed' }]);
    const read = await t.authz.withUser(owner, (tx) => storeWith(createKeyring([k2])).get(tx, good.id));
    expect(read?.value.toString()).toBe(good.value);
  });

  it('refuses to start when a stored secret names a master key it does not have', async () => {
    const owner = await t.createUser();
    await putSecret(createKeyring([generateMasterKey('k-lost')]), owner);
    const error = await assertKeyringCoversVault(t.authz, createKeyring([k2, k1])).catch((e: Error) => e);
    expect(error).toBeInstanceOf(VaultMissingKeyError);
    expect((error as Error).message).toContain('"k-lost"');
  });
});
