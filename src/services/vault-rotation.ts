/**
 * Master key rotation and the start-up keyring check. Rotation re-wraps every data key
 * under the keyring's newest master key, online: it works in small batches, each its
 * own transaction with `FOR UPDATE SKIP LOCKED`, so it never holds many rows at once
 * and runs beside live traffic. Progress is in the rows themselves (their `key_id`), so
 * a rotation killed half-way resumes where it stopped, and a second run finds nothing.
 */
import { and, eq, ne, sql } from 'drizzle-orm';
import type { Authz } from '../db/authz.ts';
import { vaultSecrets } from '../db/schema.ts';
import { rewrapSecret, VaultMissingKeyError } from '../domain/vault/envelope.ts';
import type { Keyring } from '../domain/vault/keyring.ts';
import { countSecretsNotUnder, referencedKeyIds } from '../store/secrets.ts';

export interface RotationProgress {
  done: number;
  total: number;
}

export interface RotationResult {
  rewrapped: number;
  keyId: string;
}

export async function rotateVault(
  authz: Authz,
  keyring: Keyring,
  options: { batchSize?: number; onProgress?: (progress: RotationProgress) => void } = {},
): Promise<RotationResult> {
  const target = keyring.current.id;
  const batchSize = options.batchSize ?? 200;
  const total = await authz.asService('vault rotation: count', (tx) => countSecretsNotUnder(tx, target));
  let done = 0;
  options.onProgress?.({ done, total });
  for (;;) {
    const n = await authz.asService('vault rotation: re-wrap batch', async (tx) => {
      const rows = await tx
        .select()
        .from(vaultSecrets)
        .where(ne(vaultSecrets.keyId, target))
        .limit(batchSize)
        .for('update', { skipLocked: true });
      for (const row of rows) {
        const sealed = {
          keyId: row.keyId,
          wrappedKey: row.wrappedKey,
          nonce: row.nonce,
          ciphertext: row.ciphertext,
        };
        const next = rewrapSecret(keyring, { id: row.id, ownerId: row.ownerId }, sealed);
        await tx
          .update(vaultSecrets)
          .set({ keyId: next.keyId, wrappedKey: next.wrappedKey, updatedAt: sql`now()` })
          .where(and(eq(vaultSecrets.id, row.id), eq(vaultSecrets.keyId, row.keyId)));
      }
      return rows.length;
    });
    if (n === 0) break;
    done += n;
    options.onProgress?.({ done: Math.min(done, Math.max(total, done)), total: Math.max(total, done) });
  }
  return { rewrapped: done, keyId: target };
}

/**
 * Refuses to start when a stored secret names a master key the keyring lacks: better
 * to stop with the key id than to fail later on a user's request. Prints no key bytes.
 */
export async function assertKeyringCoversVault(authz: Authz, keyring: Keyring): Promise<void> {
  const ids = await authz.asService('start-up keyring check', (tx) => referencedKeyIds(tx));
  const missing = ids.filter((id) => !keyring.get(id));
  const [first] = missing;
  if (first) throw new VaultMissingKeyError(first);
}
