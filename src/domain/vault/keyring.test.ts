import { describe, expect, it } from 'vitest';
import { formatMasterKey, generateMasterKey, KeyringError, parseKeyring } from './keyring.ts';

describe('master keyring', () => {
  it('encrypts with the first key and knows every key', () => {
    const a = generateMasterKey('2026-11');
    const b = generateMasterKey('2026-01');
    const keyring = parseKeyring(`${formatMasterKey(a)}, ${formatMasterKey(b)}`);
    expect(keyring.current.id).toBe('2026-11');
    expect(keyring.get('2026-01')?.key.equals(b.key)).toBe(true);
    expect(keyring.ids()).toEqual(['2026-11', '2026-01']);
  });

  it('refuses a key of the wrong length without printing it', () => {
    const short = Buffer.alloc(16, 7).toString('base64');
    expect(() => parseKeyring(`k1:${short}`)).toThrow(KeyringError);
    expect(() => parseKeyring(`k1:${short}`)).toThrow(/32 bytes/);
    try {
      parseKeyring(`k1:${short}`);
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
  });

  it('refuses duplicate ids, bad ids and an empty keyring', () => {
    const key = formatMasterKey(generateMasterKey('k1'));
    expect(() => parseKeyring(`${key},${key}`)).toThrow(/twice/);
    expect(() => parseKeyring(`bad id:${Buffer.alloc(32).toString('base64')}`)).toThrow(KeyringError);
    expect(() => parseKeyring(' , ')).toThrow(/empty/);
  });
});
