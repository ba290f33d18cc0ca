/**
 * Generated keys are checked against the real OpenSSH tools: ssh-keygen must load the private
 * key, re-derive the same public key, print the same fingerprints and bit count, and sign
 * with it so that the signature verifies against the public key. ssh-keygen is a required
 * test dependency (Debian's openssh-client); without it these tests fail rather than skip.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../errors.ts';
import { type GenerateKeyPairOptions, generateKeyPair, type RsaKeyBits } from './generate.ts';
import { WireReader } from './wire.ts';

const SSH_KEYGEN = '/usr/bin/ssh-keygen';
let dir: string;

function sshKeygen(...args: string[]): string {
  return execFileSync(SSH_KEYGEN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

beforeAll(() => {
  if (!existsSync(SSH_KEYGEN)) throw new Error(`${SSH_KEYGEN} is required: apt-get install openssh-client`);
  dir = mkdtempSync(join(tmpdir(), 'berth-sshkeys-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Decodes the PEM armour and the openssh-key-v1 container down to the private section. */
function openPrivateKey(pem: string) {
  const lines = pem.split('\n');
  expect(lines[0]).toBe('-----BEGIN OPENSSH PRIVATE KEY-----');
  expect(lines.at(-2)).toBe('-----END OPENSSH PRIVATE KEY-----');
  expect(lines.at(-1)).toBe('');
  const body = lines.slice(1, -2);
  for (const line of body.slice(0, -1)) expect(line).toHaveLength(70);
  expect(body.at(-1)!.length).toBeLessThanOrEqual(70);
  const raw = Buffer.from(body.join(''), 'base64');
  expect(raw.subarray(0, 15).toString('latin1')).toBe('openssh-key-v1\0');
  const reader = new WireReader(raw.subarray(15));
  expect(reader.ascii()).toBe('none');
  expect(reader.ascii()).toBe('none');
  expect(reader.string()).toHaveLength(0);
  expect(reader.uint32()).toBe(1);
  const publicBlob = reader.string();
  const section = reader.string();
  reader.end();
  return { publicBlob, section };
}

const cases: Array<{
  name: string;
  options: GenerateKeyPairOptions;
  type: string;
  bits: number;
  label: string;
}> = [
  { name: 'ed25519', options: { comment: 'alice@berth' }, type: 'ssh-ed25519', bits: 256, label: 'ED25519' },
  {
    name: 'ecdsa-p256',
    options: { algorithm: 'ecdsa-p256', comment: 'bob@berth' },
    type: 'ecdsa-sha2-nistp256',
    bits: 256,
    label: 'ECDSA',
  },
  {
    name: 'rsa 3072',
    options: { algorithm: 'rsa', comment: 'carol@berth' },
    type: 'ssh-rsa',
    bits: 3072,
    label: 'RSA',
  },
  {
    name: 'rsa 4096',
    options: { algorithm: 'rsa', rsaBits: 4096, comment: 'dave@berth' },
    type: 'ssh-rsa',
    bits: 4096,
    label: 'RSA',
  },
];

// Each pair is made while the tests are collected, outside any test's timeout: an RSA-4096
// key can take a second or more to generate on a loaded machine. The checks themselves get
// the generous project-wide test timeout.

describe.each(cases)('a generated $name key', ({ name, options, type, bits, label }) => {
  const pair = generateKeyPair(options);
  const file = () => join(dir, name.replace(' ', '-'));

  it('is written so that ssh-keygen re-derives exactly the public key', () => {
    writeFileSync(file(), pair.privateKey, { mode: 0o600 });
    writeFileSync(`${file()}.pub`, `${pair.publicKey}\n`);
    const derived = sshKeygen('-y', '-f', file()).split(' ');
    const ours = pair.publicKey.split(' ');
    expect(ours[0]).toBe(type);
    expect(derived.slice(0, 2)).toEqual(ours.slice(0, 2));
    expect(ours[2]).toBe(options.comment);
  });

  it('has the SHA256 fingerprint and size that ssh-keygen -l prints', () => {
    const [size, fingerprint, ...rest] = sshKeygen('-l', '-f', `${file()}.pub`).split(' ');
    expect(fingerprint).toBe(pair.fingerprintSha256);
    expect(Number(size)).toBe(pair.bits);
    expect(pair.bits).toBe(bits);
    expect(rest.at(-1)).toBe(`(${label})`);
  });

  it('has the MD5 fingerprint of ssh-keygen -E md5, without the prefix', () => {
    const fingerprint = sshKeygen('-l', '-E', 'md5', '-f', `${file()}.pub`).split(' ')[1];
    expect(fingerprint).toBe(`MD5:${pair.fingerprintMd5}`);
    expect(pair.fingerprintMd5).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  });

  it('holds a private key that signs for its public key', () => {
    const data = join(dir, `${name.replace(' ', '-')}.data`);
    writeFileSync(data, `signed by ${name}\n`);
    sshKeygen('-Y', 'sign', '-q', '-f', file(), '-n', 'file', data);
    const verdict = execFileSync(
      SSH_KEYGEN,
      ['-Y', 'check-novalidate', '-n', 'file', '-f', `${file()}.pub`, '-s', `${data}.sig`],
      { input: `signed by ${name}\n`, encoding: 'utf8' },
    );
    expect(verdict).toMatch(/Good "file" signature/);
  });

  it('follows the openssh-key-v1 layout: equal check ints, comment, padding 1, 2, 3', () => {
    const { publicBlob, section } = openPrivateKey(pair.privateKey);
    expect(publicBlob.toString('base64')).toBe(pair.publicKey.split(' ')[1]);
    expect(section.length % 8).toBe(0);
    const reader = new WireReader(section);
    expect(reader.uint32()).toBe(reader.uint32());
    expect(reader.ascii()).toBe(type);
    if (type === 'ssh-ed25519') {
      const pub = reader.string();
      const secret = reader.string();
      expect(secret.subarray(32)).toEqual(pub);
      // The first half is the seed: deriving a key from it must give the same public key.
      const der = Buffer.concat([
        Buffer.from('302e020100300506032b657004220420', 'hex'),
        secret.subarray(0, 32),
      ]);
      const derived = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
      expect(Buffer.from(derived.export({ format: 'jwk' }).x!, 'base64url')).toEqual(pub);
    } else if (type === 'ssh-rsa') {
      // OpenSSL silently repairs a bad CRT parameter when signing, so check the maths here.
      const [n, e, d, iqmp, p, q] = Array.from({ length: 6 }, () =>
        BigInt(`0x${reader.mpint().toString('hex')}`),
      );
      const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
      const lambda = ((p! - 1n) * (q! - 1n)) / gcd(p! - 1n, q! - 1n);
      expect(p! * q!).toBe(n);
      expect(e).toBe(65537n);
      expect((e! * d!) % lambda).toBe(1n);
      expect((q! * iqmp!) % p!).toBe(1n);
    } else {
      expect(reader.ascii()).toBe('nistp256');
      expect(reader.string()).toHaveLength(65);
      expect(reader.mpint().length).toBeLessThanOrEqual(32);
    }
    expect(reader.string().toString('utf8')).toBe(options.comment);
    const padding = section.subarray(section.length - reader.remaining);
    expect([...padding]).toEqual(Array.from({ length: padding.length }, (_, i) => i + 1));
  });
});

describe('generateKeyPair', () => {
  it('makes ed25519 keys by default, each one new', () => {
    const a = generateKeyPair({ comment: 'x' });
    const b = generateKeyPair({ comment: 'x' });
    expect(a.algorithm).toBe('ed25519');
    expect(a.publicKey).not.toBe(b.publicKey);
    expect(a.privateKey).not.toBe(b.privateKey);
    expect(a.fingerprintSha256).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('leaves the comment off the public key line when it is empty', () => {
    const pair = generateKeyPair({ comment: '' });
    expect(pair.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
  });

  it('keeps a non-ASCII comment intact in both halves', () => {
    const pair = generateKeyPair({ comment: 'zoë@berth' });
    expect(pair.publicKey.endsWith(' zoë@berth')).toBe(true);
    const file = join(dir, 'utf8');
    writeFileSync(file, pair.privateKey, { mode: 0o600 });
    expect(sshKeygen('-y', '-f', file)).toBe(pair.publicKey);
  });

  it('writes files ssh-keygen reads for every amount of padding the comment leaves', () => {
    // Comments of 0 to 8 bytes (one of them multi-byte) cover all eight padding lengths.
    const comments = ['', 'a', 'ab', 'abc', 'é@b', 'abcde', 'abcdef', 'abcdefg', 'abcdefgh'];
    const paddings = new Set<number>();
    for (const [i, comment] of comments.entries()) {
      const pair = generateKeyPair({ comment });
      const { section } = openPrivateKey(pair.privateKey);
      // check ints, key type, public key, 64-byte secret, comment: the rest is padding.
      const reader = new WireReader(section);
      reader.uint32();
      reader.uint32();
      reader.ascii();
      reader.string();
      reader.string();
      expect(reader.string().toString('utf8')).toBe(comment);
      paddings.add(reader.remaining);
      const file = join(dir, `padding-${i}`);
      writeFileSync(file, pair.privateKey, { mode: 0o600 });
      expect(sshKeygen('-y', '-f', file)).toBe(pair.publicKey);
    }
    expect([...paddings].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('refuses a comment with control characters', () => {
    expect(() => generateKeyPair({ comment: 'a\nb' })).toThrow(InvalidInputError);
    expect(() => generateKeyPair({ comment: 'a\u0085b' })).toThrow(/control characters/);
  });

  it('refuses RSA sizes other than 3072 and 4096', () => {
    expect(() => generateKeyPair({ algorithm: 'rsa', comment: '', rsaBits: 2048 as RsaKeyBits })).toThrow(
      /3072 or 4096/,
    );
  });

  it('refuses an unknown algorithm', () => {
    expect(() => generateKeyPair({ algorithm: 'dsa' as 'rsa', comment: '' })).toThrow(InvalidInputError);
  });
});
