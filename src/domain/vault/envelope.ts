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

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** What one seal draws from the CSPRNG: the data key, then its nonce, then the wrap nonce. */
const FRESH_BYTES = KEY_BYTES + NONCE_BYTES + NONCE_BYTES;

/**
 * Random bytes from the CSPRNG, drawn from a pool refilled 4 KiB at a time: each
 * `randomFillSync` call costs microseconds of fixed overhead, which made the draws most of
 * sealing's cost. `draw` hands out the offset of bytes never handed out before; the caller
 * reads them in place and must zero them with `burn` before it returns, so that the pool
 * holds no used key material and a byte can never be given out twice.
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
function draw(n: number): number {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += n;
  return at;
}
function burn(at: number, n: number): void {
  pool.fill(0, at, at + n);
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
  readonly keyId: string;

  constructor(keyId: string) {
    super(
      'vault_missing_key',
      `A stored secret was encrypted with master key "${keyId}", which is not in the keyring. Add it to BERTH_MASTER_KEYS.`,
      { keyId },
    );
    this.keyId = keyId;
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

/**
 * AES-256-GCM into `out` at `offset`: the ciphertext, then the 16-byte tag. Writing into a
 * buffer the caller sized saves the concatenations that otherwise copy every part twice.
 */
function sealInto(
  key: Buffer,
  nonce: Buffer,
  plaintext: Buffer,
  additional: Buffer,
  out: Buffer,
  offset: number,
): void {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(additional);
  const body = cipher.update(plaintext);
  // GCM is a stream mode: update() returns every byte and final() none, but final() must run
  // for the tag to exist. The checks keep a surprise from ever writing a short ciphertext.
  const rest = cipher.final();
  if (body.length !== plaintext.length || rest.length !== 0) throw new Error('AES-GCM changed the length');
  out.set(body, offset);
  out.set(cipher.getAuthTag(), offset + body.length);
}

function open(key: Buffer, nonce: Buffer, sealed: Buffer, additional: Buffer): Buffer {
  if (nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES) throw new Error('malformed');
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(additional);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
}

/** nonce || encrypted data key || tag under the current master key, from a fresh nonce. */
function wrapDataKey(keyring: Keyring, dataKey: Buffer, binding: SecretBinding, nonceAt: number) {
  const master = keyring.current;
  const wrappedKey = Buffer.allocUnsafe(NONCE_BYTES + dataKey.length + TAG_BYTES);
  pool.copy(wrappedKey, 0, nonceAt, nonceAt + NONCE_BYTES);
  const nonce = wrappedKey.subarray(0, NONCE_BYTES);
  sealInto(master.key, nonce, dataKey, aad(binding, 'key', master.id), wrappedKey, NONCE_BYTES);
  return { keyId: master.id, wrappedKey };
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

/**
 * Seals one secret. The data key is used where it was drawn, inside the random pool, and
 * zeroed there as soon as both seals are done, so no buffer in the process keeps it after
 * this call (OpenSSL clears its own copy when the cipher is freed).
 */
export function sealSecret(keyring: Keyring, binding: SecretBinding, plaintext: Buffer): SealedSecret {
  const at = draw(FRESH_BYTES);
  try {
    const dataKey = pool.subarray(at, at + KEY_BYTES);
    const nonce = Buffer.from(pool.subarray(at + KEY_BYTES, at + KEY_BYTES + NONCE_BYTES));
    const ciphertext = Buffer.allocUnsafe(plaintext.length + TAG_BYTES);
    sealInto(dataKey, nonce, plaintext, aad(binding, 'data', ''), ciphertext, 0);
    const { keyId, wrappedKey } = wrapDataKey(keyring, dataKey, binding, at + KEY_BYTES + NONCE_BYTES);
    return { keyId, wrappedKey, nonce, ciphertext };
  } finally {
    burn(at, FRESH_BYTES);
  }
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
  const nonceAt = draw(NONCE_BYTES);
  try {
    return { ...sealed, ...wrapDataKey(keyring, dataKey, binding, nonceAt) };
  } finally {
    burn(nonceAt, NONCE_BYTES);
    dataKey.fill(0);
  }
}
