import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openSecret, rewrapSecret, sealSecret, VaultDecryptError, VaultMissingKeyError } from './envelope.ts';
import { createKeyring, generateMasterKey, parseKeyring } from './keyring.ts';

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

  // Written by the envelope code before sealing moved to single-allocation output buffers,
  // under a throwaway master key: stored secrets in that format must keep opening.
  it('opens secrets sealed by the earlier implementation, byte for byte as stored', () => {
    const legacy = parseKeyring('legacy-k1:i2FxxDT6CcFL0RMlwgefyyYz1mTkIEat/0YET+FQ4GA=');
    const sealed = {
      keyId: 'legacy-k1',
      wrappedKey: Buffer.from(
        '0WZOh9CpOaNcwTUHWek0SZ1xlhZje4Itd9I1g8m7IqYh/7piVUlwkClUT3VduoJLXPEYM2li98NM5DMH',
        'base64',
      ),
      nonce: Buffer.from('3eIdmqbJTCrvQu+n', 'base64'),
      ciphertext: Buffer.from(
        'gw7rwOb/jggBNUa5pNDJ97VqnUbPj/xlus+JOI2zIwz7OFYSQP8zxvMiNcdJ4XwRfQhYtXmzTh7AZVPA/RnHkasz0RUs6kPK4MbfVPUJ5+rLhEH08bj6iajfQyKBK9z3k4NsfHgUehotfe2VxDXwlh5P1xLd1/J6zmllxCYmg0eZT2U=',
        'base64',
      ),
    };
    const row = {
      id: '3f2a9c1e-7b4d-4e8a-9c6f-1a2b3c4d5e6f',
      ownerId: '8e7d6c5b-4a39-4281-b0c1-d2e3f4a5b6c7',
    };
    expect(openSecret(legacy, row, sealed).toString()).toBe(
      '-----BEGIN OPENSSH PRIVATE KEY-----\nsealed before the single-allocation envelope\n-----END OPENSSH PRIVATE KEY-----\n',
    );
    const operatorSecret = {
      keyId: 'legacy-k1',
      wrappedKey: Buffer.from(
        'zRcUZlY+qKdH2uyN81c0nlsHy8D6+OcXrgF0m4/5VePX0wG82IT+UOWUTj182Aq6sPW+5dnuv/F7398N',
        'base64',
      ),
      nonce: Buffer.from('XCgcBkMyHjIaOCiV', 'base64'),
      ciphertext: Buffer.from('qltc/33QSn5nbpJ1KM69Lr14ro2IEZaXMNWF9Do8QA==', 'base64'),
    };
    const unowned = { id: '5d4c3b2a-1908-4f7e-8d6c-5b4a39281706', ownerId: null };
    expect(openSecret(legacy, unowned, operatorSecret).toString()).toBe('operator secret');
    expect(() => openSecret(legacy, { ...unowned, ownerId: row.ownerId }, operatorSecret)).toThrow(
      VaultDecryptError,
    );
  });

  it('writes the stored layout: 12-byte nonce, wrapped key of nonce, key and tag, ciphertext plus tag', () => {
    const sealed = sealSecret(keyring, binding, plaintext);
    expect(sealed.nonce).toHaveLength(12);
    expect(sealed.wrappedKey).toHaveLength(12 + 32 + 16);
    expect(sealed.ciphertext).toHaveLength(plaintext.length + 16);
    // Opened by hand with the format's definition, not with openSecret, so that a change to
    // both sides at once cannot go unnoticed.
    const ids = `${binding.id}:${binding.ownerId}`;
    const unwrap = createDecipheriv('aes-256-gcm', oldKey.key, sealed.wrappedKey.subarray(0, 12));
    unwrap.setAAD(Buffer.from(`berth-vault:v1:key:${ids}:k1`));
    unwrap.setAuthTag(sealed.wrappedKey.subarray(44));
    const dataKey = Buffer.concat([unwrap.update(sealed.wrappedKey.subarray(12, 44)), unwrap.final()]);
    const decipher = createDecipheriv('aes-256-gcm', dataKey, sealed.nonce);
    decipher.setAAD(Buffer.from(`berth-vault:v1:data:${ids}:`));
    decipher.setAuthTag(sealed.ciphertext.subarray(-16));
    const opened = Buffer.concat([decipher.update(sealed.ciphertext.subarray(0, -16)), decipher.final()]);
    expect(opened).toEqual(plaintext);
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
