/**
 * Importing keys: keys made by the real ssh-keygen (a required test dependency, Debian's
 * openssh-client) must parse to the fingerprints and sizes ssh-keygen itself prints, and
 * every kind of bad paste must be refused with a message that says why.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidPublicKeyError } from '../errors.ts';
import { generateKeyPair } from './generate.ts';
import { parsePublicKey } from './parse.ts';
import { WireWriter } from './wire.ts';

const SSH_KEYGEN = '/usr/bin/ssh-keygen';
let dir: string;

function sshKeygen(...args: string[]): string {
  return execFileSync(SSH_KEYGEN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Makes a key pair with ssh-keygen and returns the paths of its two files. */
function keygen(name: string, ...args: string[]): { pub: string; priv: string } {
  const priv = join(dir, name);
  sshKeygen(...args, '-N', '', '-q', '-C', `${name}@laptop`, '-f', priv);
  return { pub: `${priv}.pub`, priv };
}

/** Size, SHA256 and MD5 fingerprints as ssh-keygen -l prints them for a public key file. */
function listed(pubFile: string) {
  const [bits, sha256] = sshKeygen('-l', '-f', pubFile).split(' ');
  const md5 = sshKeygen('-l', '-E', 'md5', '-f', pubFile).split(' ')[1];
  return { bits: Number(bits), sha256, md5: md5?.replace(/^MD5:/, '') };
}

function blobOf(...fields: Array<string | Buffer>): string {
  const size = fields.reduce((sum, field) => sum + 4 + Buffer.byteLength(field), 0);
  const writer = new WireWriter(size);
  for (const field of fields) typeof field === 'string' ? writer.ascii(field) : writer.string(field);
  return writer.finish().toString('base64');
}

function p256Point(): Buffer {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  return Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
}

function ed25519Point(): Buffer {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url');
}

function rejection(text: string): InvalidPublicKeyError {
  try {
    parsePublicKey(text);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPublicKeyError);
    return error as InvalidPublicKeyError;
  }
  throw new Error('the key was accepted');
}

beforeAll(() => {
  if (!existsSync(SSH_KEYGEN)) throw new Error(`${SSH_KEYGEN} is required: apt-get install openssh-client`);
  dir = mkdtempSync(join(tmpdir(), 'berth-parse-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('parsePublicKey with keys made by ssh-keygen', () => {
  const made = [
    { name: 'ed25519', args: ['-t', 'ed25519'], type: 'ssh-ed25519', algorithm: 'ed25519', bits: 256 },
    { name: 'ecdsa', args: ['-t', 'ecdsa'], type: 'ecdsa-sha2-nistp256', algorithm: 'ecdsa-p256', bits: 256 },
    {
      name: 'ecdsa384',
      args: ['-t', 'ecdsa', '-b', '384'],
      type: 'ecdsa-sha2-nistp384',
      algorithm: 'ecdsa-p384',
      bits: 384,
    },
    {
      name: 'ecdsa521',
      args: ['-t', 'ecdsa', '-b', '521'],
      type: 'ecdsa-sha2-nistp521',
      algorithm: 'ecdsa-p521',
      bits: 521,
    },
    { name: 'rsa', args: ['-t', 'rsa', '-b', '2048'], type: 'ssh-rsa', algorithm: 'rsa', bits: 2048 },
  ] as const;

  it.each(made)(
    'imports a $name key with the fingerprints ssh-keygen prints',
    ({ name, args, type, algorithm, bits }) => {
      const { pub } = keygen(name, ...args);
      const text = readFileSync(pub, 'utf8');
      const parsed = parsePublicKey(text);
      const expected = listed(pub);
      expect(parsed).toMatchObject({
        algorithm,
        type,
        bits,
        comment: `${name}@laptop`,
        publicKey: text.trim(),
      });
      expect(parsed.bits).toBe(expected.bits);
      expect(parsed.fingerprintSha256).toBe(expected.sha256);
      expect(parsed.fingerprintMd5).toBe(expected.md5);
      expect(parsed.blob.toString('base64')).toBe(text.split(' ')[1]);
    },
  );

  it.each([
    { algorithm: 'sk-ed25519', type: 'sk-ssh-ed25519@openssh.com', body: () => [ed25519Point()] },
    {
      algorithm: 'sk-ecdsa-p256',
      type: 'sk-ecdsa-sha2-nistp256@openssh.com',
      body: () => ['nistp256', p256Point()],
    },
  ])('imports a $algorithm security key as ssh-keygen reads it', ({ algorithm, type, body }) => {
    const text = `${type} ${blobOf(type, ...body(), 'ssh:')} yubikey`;
    const pub = join(dir, `${algorithm}.pub`);
    writeFileSync(pub, `${text}\n`);
    const parsed = parsePublicKey(text);
    const expected = listed(pub);
    expect(parsed).toMatchObject({ algorithm, type, comment: 'yubikey', publicKey: text });
    expect(parsed.bits).toBe(expected.bits);
    expect(parsed.fingerprintSha256).toBe(expected.sha256);
    expect(parsed.fingerprintMd5).toBe(expected.md5);
  });
});

describe('parsePublicKey', () => {
  const pair = generateKeyPair({ comment: 'me@berth' });
  const [type, data] = pair.publicKey.split(' ') as [string, string];

  it('agrees with generateKeyPair on a generated key', () => {
    const parsed = parsePublicKey(pair.publicKey);
    expect(parsed.publicKey).toBe(pair.publicKey);
    expect(parsed.fingerprintSha256).toBe(pair.fingerprintSha256);
    expect(parsed.fingerprintMd5).toBe(pair.fingerprintMd5);
  });

  it('trims surrounding whitespace and accepts CRLF line ends', () => {
    expect(parsePublicKey(`\r\n  ${pair.publicKey}  \r\n\r\n`).publicKey).toBe(pair.publicKey);
  });

  it('treats the comment as optional and normalises spacing', () => {
    expect(parsePublicKey(`${type} ${data}`)).toMatchObject({ comment: '', publicKey: `${type} ${data}` });
    expect(parsePublicKey(`${type}\t ${data}   two  words `).publicKey).toBe(`${type} ${data} two  words`);
  });

  it('rejects a private key pasted by mistake without repeating any of it', () => {
    const { priv } = keygen('pasted', '-t', 'ed25519');
    const pastes = [
      readFileSync(priv, 'utf8'),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        format: 'pem',
        type: 'pkcs8',
      }) as string,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
        format: 'pem',
        type: 'pkcs1',
      }) as string,
      // The body of an OpenSSH private key without its armour lines.
      readFileSync(priv, 'utf8').split('\n').slice(1, -2).join('\n'),
    ];
    for (const paste of pastes) {
      const { message } = rejection(paste);
      expect(message).toMatch(/private key/);
      for (let i = 0; i + 12 <= paste.length; i++) expect(message).not.toContain(paste.slice(i, i + 12));
    }
  });

  it('rejects a DSA key', () => {
    const dss = blobOf(
      'ssh-dss',
      Buffer.alloc(128, 1),
      Buffer.alloc(20, 1),
      Buffer.alloc(128, 1),
      Buffer.alloc(128, 1),
    );
    expect(rejection(`ssh-dss ${dss} old@box`).message).toMatch(/DSA/);
  });

  it('rejects an RSA key under 2048 bits', () => {
    const { pub } = keygen('rsa1024', '-t', 'rsa', '-b', '1024');
    expect(rejection(readFileSync(pub, 'utf8')).message).toMatch(/at least 2048 bits; this one has 1024/);
  });

  it.each([
    ['command', `command="echo hi there" ${type} ${data} me`],
    ['no-pty', `no-pty,no-port-forwarding ${type} ${data}`],
    ['from', `from="10.0.0.1" ${type} ${data} me`],
  ])('rejects authorized_keys options (%s) before the key type', (_name, line) => {
    expect(rejection(line).message).toMatch(/authorized_keys options/);
  });

  it('rejects several keys at once', () => {
    const other = generateKeyPair({ comment: 'other' }).publicKey;
    expect(rejection(`${pair.publicKey}\n${other}\n`).message).toMatch(/single public key/);
  });

  it('rejects two keys pasted on one line without repeating either', () => {
    const other = generateKeyPair({ comment: 'other' }).publicKey;
    const rsa = readFileSync(keygen('joined-rsa', '-t', 'rsa', '-b', '2048').pub, 'utf8').trim();
    const pastes = [`${pair.publicKey} ${other}`, `${type} ${data} ${rsa}`, `${pair.publicKey}\t${other}`];
    for (const paste of pastes) {
      const { message } = rejection(paste);
      expect(message).toMatch(/single public key: the line holds several keys/);
      for (let i = 0; i + 12 <= paste.length; i++) expect(message).not.toContain(paste.slice(i, i + 12));
    }
  });

  it('accepts a comment that names a key type without carrying a key', () => {
    for (const comment of [
      'ssh-rsa replaced by ed25519',
      'was ssh-ed25519 AAAB',
      'old ssh-rsa',
      'AAAA ssh-rsa',
    ]) {
      expect(parsePublicKey(`${type} ${data} ${comment}`).comment).toBe(comment);
    }
  });

  it('rejects truncated key data', () => {
    expect(rejection(`${type} ${data.slice(0, -8)} me`).message).toMatch(/damaged or cut off/);
    expect(rejection(`${type} ${data.slice(0, -3)} me`).message).toMatch(/damaged or cut off/);
  });

  it('rejects garbage instead of base64', () => {
    expect(rejection(`${type} not*base64*at*all me`).message).toMatch(/damaged or cut off/);
    expect(rejection(`${type} ${Buffer.from('hello world, hi').toString('base64')}`).message).toMatch(
      /damaged/,
    );
  });

  it('rejects a type in the text that disagrees with the key data', () => {
    expect(rejection(`ssh-rsa ${data} me`).message).toMatch(
      /does not match the type inside the key data \(ssh-ed25519\)/,
    );
  });

  it('rejects trailing bytes after the key', () => {
    const padded = Buffer.concat([Buffer.from(data, 'base64'), Buffer.alloc(4)]).toString('base64');
    expect(rejection(`${type} ${padded}`).message).toMatch(/unexpected bytes at its end/);
  });

  it('rejects empty input', () => {
    expect(rejection('').message).toMatch(/No public key/);
    expect(rejection(' \r\n\t \n').message).toMatch(/No public key/);
  });

  it('rejects input over 16 KiB', () => {
    expect(rejection(`${pair.publicKey} ${'x'.repeat(16 * 1024)}`).message).toMatch(/too long/);
  });

  it('rejects control characters in the comment', () => {
    expect(rejection(`${type} ${data} bell\u0007here`).message).toMatch(/control characters/);
    expect(rejection(`${type} ${data} tab\there`).message).toMatch(/control characters/);
  });

  it('rejects an ECDSA point that is not on the curve', () => {
    const point = p256Point();
    point[64]! ^= 1;
    const text = `ecdsa-sha2-nistp256 ${blobOf('ecdsa-sha2-nistp256', 'nistp256', point)}`;
    expect(rejection(text).message).toMatch(/not a point on the nistp256 curve/);
  });

  it('rejects certificates, unknown types and a missing type', () => {
    expect(rejection(`ssh-ed25519-cert-v01@openssh.com ${data}`).message).toMatch(/certificates/);
    expect(rejection(`ssh-foo ${data}`).message).toMatch(/not a supported OpenSSH public key/);
    expect(rejection(`constructor ${data}`).message).toMatch(/not a supported OpenSSH public key/);
    expect(rejection(`${data} me`).message).toMatch(/key type is missing/);
    expect(rejection(type).message).toMatch(/key data is missing/);
  });

  it('rejects PEM and RFC 4716 public keys with a hint to convert them', () => {
    const pem = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }) as string;
    expect(rejection(pem).message).toMatch(/ssh-keygen -i -m PKCS8/);
    const rfc4716 = `---- BEGIN SSH2 PUBLIC KEY ----\n${data}\n---- END SSH2 PUBLIC KEY ----\n`;
    expect(rejection(rfc4716).message).toMatch(/ssh-keygen -i -f/);
  });
});
