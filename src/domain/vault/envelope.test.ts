import { describe, expect, it } from 'vitest';
import { openSecret, rewrapSecret, sealSecret, VaultDecryptError, VaultMissingKeyError } from './envelope.ts';
import { createKeyring, generateMasterKey } from './keyring.ts';

const oldKey = generateMasterKey('k1');
const newKey = generateMasterKey('k2');
const keyring = createKeyring([oldKey]);
const binding = {
  id: '6c1f0bd6-4c1e-4a53-9a43-5a7b5d0a2f11',
  ownerId: '0d4b6f2e-8a15-4f3c-9a1e-2b7c9d3e4f50',
};
const plaintext = Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n');

describe('envelope encryption', () => {
  it('opens what it sealed', () => {
    const sealed = sealSecret(keyring, binding, plaintext);
    expect(sealed.keyId).toBe('k1');
    expect(sealed.ciphertext.includes(plaintext)).toBe(false);
    expect(openSecret(keyring, binding, sealed)).toEqual(plaintext);
  });

  it('uses a fresh data key and nonce for every secret', () => {
    const a = sealSecret(keyring, binding, plaintext);
    const b = sealSecret(keyring, binding, plaintext);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.wrappedKey.equals(b.wrappedKey)).toBe(false);
    expect(a.nonce).toHaveLength(12);
  });

  it('gives a typed error, never wrong plaintext, when any byte is altered', () => {
    const sealed = sealSecret(keyring, binding, plaintext);
    for (const field of ['wrappedKey', 'nonce', 'ciphertext'] as const) {
      for (let i = 0; i < sealed[field].length; i++) {
        const altered = Buffer.from(sealed[field]);
        altered[i] = (altered[i] ?? 0) ^ 0x01;
        expect(() => openSecret(keyring, binding, { ...sealed, [field]: altered })).toThrow(
          VaultDecryptError,
        );
      }
    }
  });

  it('does not open a ciphertext copied onto another row or owner', () => {
    const sealed = sealSecret(keyring, binding, plaintext);
    const otherRow = { ...binding, id: 'a8a0b5c4-1d2e-4f3a-8b9c-0d1e2f3a4b5c' };
    const otherOwner = { ...binding, ownerId: 'f0e1d2c3-b4a5-4968-8776-655443322110' };
    expect(() => openSecret(keyring, otherRow, sealed)).toThrow(VaultDecryptError);
    expect(() => openSecret(keyring, otherOwner, sealed)).toThrow(VaultDecryptError);
  });

  it('names the missing master key and no key material', () => {
    const sealed = sealSecret(createKeyring([newKey]), binding, plaintext);
    const error = (() => {
      try {
        openSecret(keyring, binding, sealed);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(VaultMissingKeyError);
    expect(error?.message).toContain('"k2"');
    expect(error?.message).not.toContain(newKey.key.toString('base64'));
  });

  it('re-wraps under the newest key without touching the ciphertext', () => {
    const sealed = sealSecret(keyring, binding, plaintext);
    const rotated = createKeyring([newKey, oldKey]);
    const rewrapped = rewrapSecret(rotated, binding, sealed);
    expect(rewrapped.keyId).toBe('k2');
    expect(rewrapped.ciphertext.equals(sealed.ciphertext)).toBe(true);
    expect(openSecret(createKeyring([newKey]), binding, rewrapped)).toEqual(plaintext);
    expect(rewrapSecret(rotated, binding, rewrapped)).toBe(rewrapped);
  });
});
