/**
 * The Ed25519 point check: every encoding of a point of small order (libsodium's blocklist,
 * with and without the sign bit), every non-canonical y, points off the curve and points
 * with a small-order component are refused, on their own and as imported key lines, while
 * keys made by the real ssh-keygen and by OpenSSL still pass.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidPublicKeyError } from '../errors.ts';
import { ed25519PointProblem } from './ed25519-point.ts';
import { parsePublicKey } from './parse.ts';
import { WireWriter } from './wire.ts';

const P = 2n ** 255n - 19n;

/** 32 little-endian bytes of `y`, with the sign bit set when asked. */
function encode(y: bigint, sign = false): Buffer {
  const bytes = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) bytes[i] = Number((y >> BigInt(8 * i)) & 0xffn);
  if (sign) bytes[31]! |= 0x80;
  return bytes;
}

const decode = (bytes: Buffer): bigint => BigInt(`0x${Buffer.from(bytes).reverse().toString('hex')}`);

/** `type base64` for an Ed25519 point, as a .pub line holds it. */
function keyLine(point: Buffer, type = 'ssh-ed25519'): string {
  const tail = type.startsWith('sk-') ? ['ssh:'] : [];
  const writer = new WireWriter(4 + type.length + 4 + 32 + tail.reduce((n, s) => n + 4 + s.length, 0));
  writer.ascii(type);
  writer.string(point);
  for (const field of tail) writer.ascii(field);
  return `${type} ${writer.finish().toString('base64')} test`;
}

function refusal(line: string): string {
  try {
    parsePublicKey(line);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPublicKeyError);
    return (error as Error).message;
  }
  throw new Error('the key was accepted');
}

/**
 * libsodium's has_small_order blocklist (ed25519_ref10.c), as it gives it: the identity,
 * the points of order 2, 4 and 8 by y, and p - 1, p and p + 1. Together with the sign bit
 * set, these are every encoding of the eight points of small order.
 */
const SMALL_ORDER_HEX = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];
const SMALL_ORDER = SMALL_ORDER_HEX.flatMap((hex) => {
  const plain = Buffer.from(hex, 'hex');
  const signed = Buffer.from(plain);
  signed[31]! |= 0x80;
  return [plain, signed];
});

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-ed25519-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ed25519PointProblem', () => {
  it.each(SMALL_ORDER.map((bytes) => [bytes.toString('hex'), bytes] as const))(
    'refuses the small-order encoding %s',
    (_hex, bytes) => {
      expect(ed25519PointProblem(bytes)).toMatch(/^(of small order|not canonically encoded)$/);
      expect(refusal(keyLine(bytes))).toMatch(/^The Ed25519 key is not valid: its point is/);
    },
  );

  it('refuses the identity point from the report, as ssh-ed25519 and as a security key', () => {
    const line = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    expect(refusal(line)).toBe(
      'The Ed25519 key is not valid: its point is of small order. ' +
        'No key made by ssh-keygen looks like this; copy the whole line of the .pub file again.',
    );
    expect(refusal(keyLine(encode(1n), 'sk-ssh-ed25519@openssh.com'))).toMatch(/of small order/);
    expect(refusal(keyLine(encode(0n)))).toMatch(/of small order/);
  });

  it('refuses every y that is not reduced below p, with either sign', () => {
    for (let y = P; y < 2n ** 255n; y++) {
      for (const sign of [false, true]) {
        expect(ed25519PointProblem(encode(y, sign))).toBe('not canonically encoded');
      }
    }
  });

  it('refuses a y with no point on the curve', () => {
    // For y = 2, x² = (y² - 1)/(d·y² + 1) = 3/(4d + 1) has no square root mod p: by
    // Euler's criterion its (p - 1)/2-th power is -1, worked out here apart from the code.
    const pow = (b: bigint, e: bigint): bigint => {
      let r = 1n;
      for (let base = b % P; e > 0n; e >>= 1n, base = (base * base) % P) if (e & 1n) r = (r * base) % P;
      return r;
    };
    const d = (((-121665n * pow(121666n, P - 2n)) % P) + P) % P;
    const xx = (3n * pow((4n * d + 1n) % P, P - 2n)) % P;
    expect(pow(xx, (P - 1n) / 2n)).toBe(P - 1n);
    expect(ed25519PointProblem(encode(2n))).toBe('not on the curve');
    expect(refusal(keyLine(encode(2n)))).toMatch(/not on the curve/);
  });

  it('refuses a real key with a small-order component added', () => {
    // A + (0, -1) = (-x, -y): the key's y negated and its sign bit flipped. The point is on
    // the curve and of large order, but no key pair has it as its public key.
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const point = Buffer.from(jwk.x!, 'base64url');
    const sign = (point[31]! & 0x80) !== 0;
    const y = decode(point) & ((1n << 255n) - 1n);
    const mixed = encode(P - y, !sign);
    expect(ed25519PointProblem(point)).toBeUndefined();
    expect(ed25519PointProblem(mixed)).toBe('outside the prime-order subgroup');
  });

  it('accepts Ed25519 keys that OpenSSL makes', () => {
    for (let i = 0; i < 100; i++) {
      const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
      expect(ed25519PointProblem(Buffer.from(jwk.x!, 'base64url'))).toBeUndefined();
    }
  });

  it('accepts Ed25519 keys that ssh-keygen makes, as parsePublicKey reads them', () => {
    for (let i = 0; i < 10; i++) {
      const file = join(dir, `id${i}`);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `key${i}`, '-f', file]);
      const text = readFileSync(`${file}.pub`, 'utf8').trim();
      expect(parsePublicKey(text).publicKey).toBe(text);
    }
  });
});
