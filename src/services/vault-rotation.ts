/**
 * Master key rotation and the start-up keyring check. Rotation re-wraps every data key
 * under the keyring's newest master key, online: it works in small batches, each its
 * own transaction with `FOR UPDATE SKIP LOCKED`, so it never holds many rows at once
 * and runs beside live traffic. Progress is in the rows themselves (their `key_id`), so
 * a rotation killed half-way resumes where it stopped, and a second run finds nothing.
 */
import { and, eq, ne, notInArray, sql } from 'drizzle-orm';
import type { Authz } from '../db/authz.ts';
import { vaultSecrets } from '../db/schema.ts';
import { BerthError } from '../domain/errors.ts';
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
  /** Secrets that could not be opened (altered, or under a key the keyring lacks). */
  failed: { id: string; reason: string }[];
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
  // A secret that cannot be opened is reported, not fatal: the others still rotate, and
  // the operator gets the ids (never contents) to investigate.
  const failed: RotationResult['failed'] = [];
  options.onProgress?.({ done, total });
  for (;;) {
    const skip = failed.map((f) => f.id);
    const pending = ne(vaultSecrets.keyId, target);
    const n = await authz.asService('vault rotation: re-wrap batch', async (tx) => {
      const rows = await tx
        .select()
        .from(vaultSecrets)
        .where(skip.length ? and(pending, notInArray(vaultSecrets.id, skip)) : pending)
        .limit(batchSize)
        .for('update', { skipLocked: true });
      for (const row of rows) {
        const next = tryRewrap(keyring, row, failed);
        if (!next) continue;
        await tx
          .update(vaultSecrets)
          .set({ keyId: next.keyId, wrappedKey: next.wrappedKey, updatedAt: sql`now()` })
          .where(and(eq(vaultSecrets.id, row.id), eq(vaultSecrets.keyId, row.keyId)));
      }
      return rows.length;
    });
    if (n === 0) break;
    done += n;
    options.onProgress?.({ done, total: Math.max(total, done) });
  }
  return { rewrapped: done - failed.length, keyId: target, failed };
}

function tryRewrap(
  keyring: Keyring,
  row: typeof vaultSecrets.$inferSelect,
  failed: RotationResult['failed'],
) {
  try {
    return rewrapSecret(keyring, { id: row.id, ownerId: row.ownerId }, row);
  } catch (error) {
    if (!(error instanceof BerthError)) throw error;
    failed.push({ id: row.id, reason: error.code });
    return null;
  }
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
