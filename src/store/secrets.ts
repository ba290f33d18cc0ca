/**
 * Vault storage, in two layers with one interface (the pattern of coder's dbcrypt).
 * `DbSecretStore` writes and reads rows exactly as given; `EncryptedSecretStore` wraps
 * any SecretStore, sealing `value` on the way in and opening it on the way out, with
 * the master key's id stored beside each ciphertext. Callers hold the encrypted one and
 * cannot tell it apart; the table's NOT NULL key columns make a plaintext write fail.
 */
import { and, eq, ne, notInArray, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/engine.ts';
import { vaultSecrets } from '../db/schema.ts';
import { openSecret, type SealedSecret, sealSecret } from '../domain/vault/envelope.ts';
import type { Keyring } from '../domain/vault/keyring.ts';

export interface SecretRecord {
  id: string;
  ownerId: string | null;
  name: string;
  /** Plaintext above the encryption layer, ciphertext below it. */
  value: Buffer;
  keyId: string | null;
  wrappedKey: Buffer | null;
  nonce: Buffer | null;
}

export interface SecretStore {
  insert(tx: Executor, record: SecretRecord): Promise<void>;
  /**
   * The INSERT that `insert` runs, for a script (`Authz.scriptAsUser`); with `when`, the
   * secret is written only if that condition holds when the statement runs.
   */
  insertStatement(record: SecretRecord, when?: SQL): SQL;
  get(tx: Executor, id: string): Promise<SecretRecord | null>;
  delete(tx: Executor, id: string): Promise<boolean>;
}

export class DbSecretStore implements SecretStore {
  async insert(tx: Executor, record: SecretRecord): Promise<void> {
    await tx.execute(this.insertStatement(record));
  }

  insertStatement(record: SecretRecord, when?: SQL): SQL {
    const values = sql.join(
      [
        sql`${record.id}::uuid`,
        sql`${record.ownerId}::uuid`,
        sql`${record.name}`,
        sql`${record.keyId}`,
        bytea(record.wrappedKey),
        bytea(record.nonce),
        bytea(record.value),
      ],
      sql`, `,
    );
    return sql`insert into ${vaultSecrets} (id, owner_id, name, key_id, wrapped_key, nonce, ciphertext)
      select ${values}${when ? sql` where ${when}` : sql``}`;
  }

  async get(tx: Executor, id: string): Promise<SecretRecord | null> {
    const [row] = await tx.select().from(vaultSecrets).where(eq(vaultSecrets.id, id));
    if (!row) return null;
    return { ...row, value: row.ciphertext };
  }

  async delete(tx: Executor, id: string): Promise<boolean> {
    const rows = await tx
      .delete(vaultSecrets)
      .where(eq(vaultSecrets.id, id))
      .returning({ id: vaultSecrets.id });
    return rows.length > 0;
  }
}

/**
 * Told of every seal and open (metrics). A failed open means a ciphertext was altered or
 * its master key is missing: the operator must hear of the first one.
 */
export interface VaultObserver {
  operation(operation: 'encrypt' | 'decrypt', outcome: 'success' | 'failure'): void;
}

export class EncryptedSecretStore implements SecretStore {
  private readonly inner: SecretStore;
  private readonly keyring: Keyring;
  private readonly observer?: VaultObserver;

  constructor(inner: SecretStore, keyring: Keyring, observer?: VaultObserver) {
    this.inner = inner;
    this.keyring = keyring;
    this.observer = observer;
  }

  async insert(tx: Executor, record: SecretRecord): Promise<void> {
    await this.inner.insert(tx, this.seal(record));
  }

  insertStatement(record: SecretRecord, when?: SQL): SQL {
    return this.inner.insertStatement(this.seal(record), when);
  }

  private seal(record: SecretRecord): SecretRecord {
    let sealed: SealedSecret;
    try {
      sealed = sealSecret(this.keyring, record, record.value);
    } catch (error) {
      this.observer?.operation('encrypt', 'failure');
      throw error;
    }
    this.observer?.operation('encrypt', 'success');
    return { ...record, ...sealed, value: sealed.ciphertext };
  }

  async get(tx: Executor, id: string): Promise<SecretRecord | null> {
    const row = await this.inner.get(tx, id);
    if (!row) return null;
    let value: Buffer;
    try {
      value = openSecret(this.keyring, row, toSealed(row));
    } catch (error) {
      this.observer?.operation('decrypt', 'failure');
      throw error;
    }
    this.observer?.operation('decrypt', 'success');
    return { ...row, value };
  }

  delete(tx: Executor, id: string): Promise<boolean> {
    return this.inner.delete(tx, id);
  }
}

/** Bytes as a bytea value, bound as a parameter or written into a script (see `inlineStatement`). */
function bytea(value: Buffer | null): SQL {
  return sql`${value}::bytea`;
}

export function toSealed(row: SecretRecord): SealedSecret {
  return {
    keyId: row.keyId ?? '',
    wrappedKey: row.wrappedKey ?? Buffer.alloc(0),
    nonce: row.nonce ?? Buffer.alloc(0),
    ciphertext: row.value,
  };
}

/** The master key ids that stored secrets reference, for the start-up check. */
export async function referencedKeyIds(tx: Executor): Promise<string[]> {
  const rows = await tx.selectDistinct({ keyId: vaultSecrets.keyId }).from(vaultSecrets);
  return rows.map((row) => row.keyId);
}

/** Secrets not yet under master key `keyId`, leaving out the ids in `except`. */
export function secretsNotUnder(keyId: string, except: readonly string[] = []): SQL | undefined {
  const pending = ne(vaultSecrets.keyId, keyId);
  return except.length ? and(pending, notInArray(vaultSecrets.id, [...except])) : pending;
}

export async function countSecretsNotUnder(
  tx: Executor,
  keyId: string,
  except: readonly string[] = [],
): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(vaultSecrets)
    .where(secretsNotUnder(keyId, except));
  return row?.n ?? 0;
}
