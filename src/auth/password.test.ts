import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './password.ts';

describe('password hashing', () => {
  it('stores a self-describing scrypt hash at N=2^15, r=8, p=1 with a fresh salt', async () => {
    const a = await hashPassword('correct horse battery staple');
    const b = await hashPassword('correct horse battery staple');
    expect(a).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct horse');
  });

  it('accepts the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('s3cret-Passw0rd');
    expect(await verifyPassword('s3cret-Passw0rd', stored)).toBe(true);
    expect(await verifyPassword('s3cret-passw0rd', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('treats the same text in different Unicode forms as one password', async () => {
    const stored = await hashPassword('caf\u00e9-password');
    expect(await verifyPassword('cafe\u0301-password', stored)).toBe(true);
  });

  it('never matches a stored value it did not write, nor a weakened one', async () => {
    expect(await verifyPassword('x', null)).toBe(false);
    expect(await verifyPassword('x', '$2a$10$abcdefghijklmnopqrstuu5Jm4l6P3aH0yq7L1a1a1a1a1a1a1a1a')).toBe(
      false,
    );
    const stored = await hashPassword('pw-pw-pw-pw');
    expect(await verifyPassword('pw-pw-pw-pw', stored.replace('ln=15', 'ln=4'))).toBe(false);
  });

  it('keeps cheaper parameters verifiable, because the parameters travel with the hash', async () => {
    const stored = await hashPassword('pw-pw-pw-pw', { ln: 12, r: 8, p: 1 });
    expect(stored.startsWith('$scrypt$ln=12,')).toBe(true);
    expect(await verifyPassword('pw-pw-pw-pw', stored)).toBe(true);
  });
});
