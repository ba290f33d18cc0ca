/**
 * Master key rotation and the start-up keyring check. Rotation re-wraps every data key
 * under the keyring's newest master key, online: it works in small batches, each its
 * own transaction with `FOR UPDATE SKIP LOCKED`, so it never holds many rows at once
 * and runs beside live traffic. Progress is in the rows themselves (their `key_id`), so
 * a rotation killed half-way resumes where it stopped, and a second run finds nothing.
 * It is the one rotation there is: `berth vault rotate` runs it on its own connection,
 * or asks a serving embedded berth to run it (`POST /internal/vault/rotate`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq, sql } from 'drizzle-orm';
import type { Authz } from '../db/authz.ts';
import type { Tx } from '../db/engine.ts';
import { vaultSecrets } from '../db/schema.ts';
import { BerthError, UnavailableError } from '../domain/errors.ts';
import { rewrapSecret, VaultMissingKeyError } from '../domain/vault/envelope.ts';
import type { Keyring } from '../domain/vault/keyring.ts';
import { countSecretsNotUnder, referencedKeyIds, secretsNotUnder } from '../store/secrets.ts';

export interface RotationProgress {
  done: number;
  total: number;
  /** Secrets still under an older key that other work holds locked: the rotation waits for them. */
  waiting?: number;
}

export interface RotationResult {
  rewrapped: number;
  keyId: string;
  /** Secrets that could not be opened (altered, or under a key the keyring lacks). */
  failed: { id: string; reason: string }[];
}

export interface RotationOptions {
  batchSize?: number;
  onProgress?: (progress: RotationProgress) => void;
  /** How long one wait for secrets that other work holds locked may last (default 30 s). */
  lockWaitMs?: number;
  /** The pause before looking again at secrets that were locked (default 250 ms). */
  retryDelayMs?: number;
  /** Stops the rotation between batches (a client that went away); what committed stays. */
  signal?: AbortSignal;
}

/** Secrets that other work kept locked for longer than the rotation would wait. */
export class VaultRotationIncompleteError extends UnavailableError {
  readonly remaining: number;

  constructor(remaining: number, waitedMs: number) {
    super(
      `${remaining} secret(s) are still under an older master key: other work held them locked ` +
        `for ${Math.round(waitedMs / 1000)} s. Run the rotation again; it resumes where it stopped.`,
    );
    this.remaining = remaining;
  }
}

/** The rotation of one keyring's vault, as handed to the internal API. */
export interface VaultRotation {
  /** The master key it re-wraps under: the keyring's newest. */
  readonly keyId: string;
  run(options?: RotationOptions): Promise<RotationResult>;
}

export function vaultRotation(authz: Authz, keyring: Keyring): VaultRotation {
  return { keyId: keyring.current.id, run: (options) => rotateVault(authz, keyring, options) };
}

export async function rotateVault(
  authz: Authz,
  keyring: Keyring,
  options: RotationOptions = {},
): Promise<RotationResult> {
  const target = keyring.current.id;
  const batchSize = options.batchSize ?? 200;
  const lockWaitMs = options.lockWaitMs ?? 30_000;
  const retryDelayMs = options.retryDelayMs ?? 250;
  let total = await authz.asService('vault rotation: count', (tx) => countSecretsNotUnder(tx, target));
  let done = 0;
  // A secret that cannot be opened is reported, not fatal: the others still rotate, and
  // the operator gets the ids (never contents) to investigate.
  const failed: RotationResult['failed'] = [];
  let waitingSince: number | null = null;
  options.onProgress?.({ done, total });
  for (;;) {
    options.signal?.throwIfAborted();
    const skip = failed.map((f) => f.id);
    const n = await authz.asService('vault rotation: re-wrap batch', (tx) =>
      rewrapBatch(tx, keyring, skip, batchSize, failed),
    );
    if (n > 0) {
      // Progress ends a wait: the next stall for locked rows gets its own time.
      waitingSince = null;
      done += n;
      total = Math.max(total, done);
      options.onProgress?.({ done, total });
      continue;
    }
    // A batch that finds nothing does not mean nothing is left: SKIP LOCKED passes over
    // rows that other work holds at that moment. Count what is still under an older key
    // (less what cannot be opened) and come back for it, for a bounded time.
    const left = await authz.asService('vault rotation: count what is left', (tx) =>
      countSecretsNotUnder(
        tx,
        target,
        failed.map((f) => f.id),
      ),
    );
    if (left === 0) break;
    const now = Date.now();
    waitingSince ??= now;
    if (now - waitingSince >= lockWaitMs) throw new VaultRotationIncompleteError(left, now - waitingSince);
    total = Math.max(total, done + left);
    options.onProgress?.({ done, total, waiting: left });
    await sleep(retryDelayMs, undefined, options.signal ? { signal: options.signal } : {});
  }
  return { rewrapped: done - failed.length, keyId: target, failed };
}

/** Re-wraps up to `batchSize` secrets not under the newest key; returns how many it took. */
async function rewrapBatch(
  tx: Tx,
  keyring: Keyring,
  skip: string[],
  batchSize: number,
  failed: RotationResult['failed'],
): Promise<number> {
  const rows = await tx
    .select()
    .from(vaultSecrets)
    .where(secretsNotUnder(keyring.current.id, skip))
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
