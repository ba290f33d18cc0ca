/**
 * Envelope encryption for the vault, pure: values in, values out. Each secret gets a
 * fresh random 256-bit data key and 96-bit nonce and is sealed with AES-256-GCM; the data
 * key is then sealed under a master key, named by `keyId`, which is stored beside the
 * ciphertext. Both seals bind the secret's id and owner as additional authenticated
 * data, so a ciphertext copied onto another row, or any byte changed, fails to open
 * with a typed error instead of yielding wrong plaintext.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { BerthError } from '../errors.ts';
import type { Keyring } from './keyring.ts';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Random bytes from the CSPRNG, drawn from a pool refilled 4 KiB at a time: each
 * `randomBytes` call costs microseconds of fixed overhead, and sealing takes three draws,
 * which made them most of its cost. Every byte is handed out once, as a copy.
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
function random(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = Buffer.from(pool.subarray(poolOffset, poolOffset + n));
  pool.fill(0, poolOffset, poolOffset + n);
  poolOffset += n;
  return out;
}

export interface SealedSecret {
  keyId: string;
  /** nonce || encrypted data key || tag, under the master key `keyId`. */
  wrappedKey: Buffer;
  nonce: Buffer;
  /** encrypted secret || tag, under the data key. */
  ciphertext: Buffer;
}

/** What a sealed secret is bound to: copying it to another id or owner breaks it. */
export interface SecretBinding {
  id: string;
  ownerId: string | null;
}

export class VaultMissingKeyError extends BerthError {
  constructor(readonly keyId: string) {
    super(
      'vault_missing_key',
      `A stored secret was encrypted with master key "${keyId}", which is not in the keyring. Add it to BERTH_MASTER_KEYS.`,
      { keyId },
    );
  }
}

export class VaultDecryptError extends BerthError {
  constructor(secretId: string) {
    super(
      'vault_decrypt_failed',
      `Secret ${secretId} could not be decrypted: it was altered or does not belong to this row.`,
      { secretId },
    );
  }
}

function aad(binding: SecretBinding, part: 'data' | 'key', keyId: string): Buffer {
  return Buffer.from(`berth-vault:v1:${part}:${binding.id}:${binding.ownerId ?? '-'}:${keyId}`);
}

function seal(key: Buffer, nonce: Buffer, plaintext: Buffer, additional: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(additional);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function open(key: Buffer, nonce: Buffer, sealed: Buffer, additional: Buffer): Buffer {
  if (nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES) throw new Error('malformed');
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(additional);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
}

function wrapDataKey(keyring: Keyring, dataKey: Buffer, binding: SecretBinding) {
  const master = keyring.current;
  const nonce = random(NONCE_BYTES);
  const sealed = seal(master.key, nonce, dataKey, aad(binding, 'key', master.id));
  return { keyId: master.id, wrappedKey: Buffer.concat([nonce, sealed]) };
}

function unwrapDataKey(keyring: Keyring, sealed: SealedSecret, binding: SecretBinding): Buffer {
  const master = keyring.get(sealed.keyId);
  if (!master) throw new VaultMissingKeyError(sealed.keyId);
  try {
    const nonce = sealed.wrappedKey.subarray(0, NONCE_BYTES);
    return open(master.key, nonce, sealed.wrappedKey.subarray(NONCE_BYTES), aad(binding, 'key', master.id));
  } catch {
    throw new VaultDecryptError(binding.id);
  }
}

export function sealSecret(keyring: Keyring, binding: SecretBinding, plaintext: Buffer): SealedSecret {
  const dataKey = random(32);
  const nonce = random(NONCE_BYTES);
  const ciphertext = seal(dataKey, nonce, plaintext, aad(binding, 'data', ''));
  return { ...wrapDataKey(keyring, dataKey, binding), nonce, ciphertext };
}

export function openSecret(keyring: Keyring, binding: SecretBinding, sealed: SealedSecret): Buffer {
  const dataKey = unwrapDataKey(keyring, sealed, binding);
  try {
    return open(dataKey, sealed.nonce, sealed.ciphertext, aad(binding, 'data', ''));
  } catch {
    throw new VaultDecryptError(binding.id);
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Re-wraps a secret's data key under the keyring's current master key. The ciphertext
 * is untouched, so rotation costs two small AES operations per secret.
 */
export function rewrapSecret(keyring: Keyring, binding: SecretBinding, sealed: SealedSecret): SealedSecret {
  if (sealed.keyId === keyring.current.id) return sealed;
  const dataKey = unwrapDataKey(keyring, sealed, binding);
  try {
    return { ...sealed, ...wrapDataKey(keyring, dataKey, binding) };
  } finally {
    dataKey.fill(0);
  }
}
