/**
 * Generates SSH key pairs for berth users and encodes them the way OpenSSH does: the public
 * key as one authorized_keys line and the private key as an unencrypted openssh-key-v1 file
 * (what `ssh-keygen -N ''` writes), plus the two fingerprints berth stores. Only node:crypto
 * is used. Keys come out of node:crypto as JWK, because Node encodes JWK several times faster
 * than DER and generation speed matters when keys are made in bulk.
 *
 * The JWK is requested through the key encodings rather than by exporting the returned
 * KeyObjects: in Node 20 exporting a freshly generated KeyObject can deadlock the thread when
 * a garbage collection during the export finalises the key generation job, whose destructor
 * takes the same key mutex the export holds. Encoding inside the job avoids that window.
 */
import { generateKeyPairSync, type JsonWebKey, randomInt } from 'node:crypto';
import { InvalidInputError } from '../errors.ts';
import { hasControlCharacters } from './comment.ts';
import { fingerprintMd5, fingerprintSha256 } from './fingerprint.ts';
import { bitLength, mpintLength, WireWriter } from './wire.ts';

/** The algorithms berth generates keys with. */
export const SSH_KEY_ALGORITHMS = ['ed25519', 'rsa', 'ecdsa-p256'] as const;
export type SshKeyAlgorithm = (typeof SSH_KEY_ALGORITHMS)[number];

/** RSA modulus sizes berth offers; 3072 is the default, as in current OpenSSH. */
export const RSA_KEY_BITS = [3072, 4096] as const;
export type RsaKeyBits = (typeof RSA_KEY_BITS)[number];

/** Longest comment accepted, so that a key line stays a reasonable size. */
export const MAX_COMMENT_LENGTH = 1024;

export interface GenerateKeyPairOptions {
  algorithm?: SshKeyAlgorithm;
  comment: string;
  rsaBits?: RsaKeyBits;
}

export interface GeneratedKeyPair {
  algorithm: SshKeyAlgorithm;
  /** One line: `type base64 comment` (no comment part when the comment is empty). */
  publicKey: string;
  /** Unencrypted openssh-key-v1 PEM, ending in a newline. */
  privateKey: string;
  /** `SHA256:` plus unpadded base64, as `ssh-keygen -l` prints it. */
  fingerprintSha256: string;
  /** Colon-separated lowercase hex without a prefix, as DigitalOcean identifies keys. */
  fingerprintMd5: string;
  bits: number;
}

/** One key's wire forms: its public blob and the type-specific part of the private section. */
interface EncodedKey {
  type: string;
  publicBlob: Buffer;
  privatePart: Buffer;
  bits: number;
}

// Everything before the public key in an unencrypted openssh-key-v1 file: magic, cipher
// "none", KDF "none", empty KDF options, one key. Written once, copied into every file.
const HEADER = new WireWriter(15 + 8 + 8 + 4 + 4)
  .raw(Buffer.from('openssh-key-v1\0', 'latin1'))
  .ascii('none')
  .ascii('none')
  .uint32(0)
  .uint32(1)
  .finish();
// An ed25519 public blob up to the key bytes: the type name and the key's length.
const ED25519_TYPE = 'ssh-ed25519';
const ED25519_BLOB_PREFIX = new WireWriter(4 + ED25519_TYPE.length + 4)
  .ascii(ED25519_TYPE)
  .uint32(32)
  .finish();
const PEM_BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----\n';
const PEM_END = '-----END OPENSSH PRIVATE KEY-----\n';
const PEM_COLUMNS = 70;
// The private section is padded to the cipher block size, which is 8 for cipher "none".
const BLOCK_SIZE = 8;

export function generateKeyPair(options: GenerateKeyPairOptions): GeneratedKeyPair {
  const algorithm = options.algorithm ?? 'ed25519';
  const comment = options.comment;
  checkComment(comment);
  let key: EncodedKey;
  if (algorithm === 'ed25519') key = generateEd25519();
  else if (algorithm === 'rsa') key = generateRsa(checkRsaBits(options.rsaBits));
  else if (algorithm === 'ecdsa-p256') key = generateEcdsaP256();
  else throw new InvalidInputError('Unsupported key algorithm; choose ed25519, rsa or ecdsa-p256.');
  return {
    algorithm,
    publicKey: publicKeyLine(key.type, key.publicBlob, comment),
    privateKey: encodePrivateKey(key, comment),
    fingerprintSha256: fingerprintSha256(key.publicBlob),
    fingerprintMd5: fingerprintMd5(key.publicBlob),
    bits: key.bits,
  };
}

/** The authorized_keys form of a key; shared with the parser so both normalise alike. */
export function publicKeyLine(type: string, blob: Buffer, comment: string): string {
  const base = `${type} ${blob.toString('base64')}`;
  return comment === '' ? base : `${base} ${comment}`;
}

function checkComment(comment: string): void {
  if (typeof comment !== 'string') throw new InvalidInputError('The key comment must be text.');
  if (comment.length > MAX_COMMENT_LENGTH) {
    throw new InvalidInputError(`The key comment must be at most ${MAX_COMMENT_LENGTH} characters.`);
  }
  if (hasControlCharacters(comment)) {
    throw new InvalidInputError('The key comment must not contain control characters such as newlines.');
  }
}

function checkRsaBits(bits: number | undefined): RsaKeyBits {
  if (bits === undefined) return 3072;
  if (bits === 3072 || bits === 4096) return bits;
  throw new InvalidInputError('RSA keys can be 3072 or 4096 bits.');
}

function b64url(value: string | undefined): Buffer {
  if (value === undefined) throw new Error('JWK export is missing a key component');
  return Buffer.from(value, 'base64url');
}

// The private JWK carries the public components as well, so only it is read. The public key
// is encoded too because otherwise Node wraps it in a KeyObject, a native handle whose
// creation and garbage collection cost more than the small JWK export.
const JWK_PAIR = { publicKeyEncoding: { format: 'jwk' }, privateKeyEncoding: { format: 'jwk' } } as const;

// @types/node has no overload for JWK output, so the call is typed here, once.
const generateJwkPair = generateKeyPairSync as unknown as (
  type: 'ed25519' | 'rsa' | 'ec',
  options: object,
) => { privateKey: JsonWebKey };

function generateEd25519(): EncodedKey {
  const jwk = generateJwkPair('ed25519', JWK_PAIR).privateKey;
  // The key bytes are decoded from the JWK straight into the wire buffers.
  const publicBlob = new WireWriter(ED25519_BLOB_PREFIX.length + 32)
    .raw(ED25519_BLOB_PREFIX)
    .base64url(jwk.x, 32)
    .finish();
  const pub = publicBlob.subarray(publicBlob.length - 32);
  // OpenSSH keeps the 64-byte "secret key" of the reference implementation: seed then public.
  const privatePart = new WireWriter(publicBlob.length + 4 + 64)
    .raw(publicBlob)
    .uint32(64)
    .base64url(jwk.d, 32)
    .raw(pub)
    .finish();
  return { type: ED25519_TYPE, publicBlob, privatePart, bits: 256 };
}

function generateRsa(modulusLength: RsaKeyBits): EncodedKey {
  const jwk = generateJwkPair('rsa', { modulusLength, publicExponent: 65537, ...JWK_PAIR }).privateKey;
  const [n, e, d, p, q, qi] = [jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.qi].map(b64url) as [
    Buffer,
    Buffer,
    Buffer,
    Buffer,
    Buffer,
    Buffer,
  ];
  const type = 'ssh-rsa';
  const size = (...parts: Buffer[]) => parts.reduce((sum, part) => sum + 4 + mpintLength(part), 0);
  const publicBlob = new WireWriter(4 + type.length + size(e, n)).ascii(type).mpint(e).mpint(n).finish();
  // OpenSSH's private order is n, e, d, iqmp, p, q; JWK's qi is q⁻¹ mod p, which is iqmp.
  const privatePart = new WireWriter(4 + type.length + size(n, e, d, qi, p, q))
    .ascii(type)
    .mpint(n)
    .mpint(e)
    .mpint(d)
    .mpint(qi)
    .mpint(p)
    .mpint(q)
    .finish();
  return { type, publicBlob, privatePart, bits: bitLength(n) };
}

function generateEcdsaP256(): EncodedKey {
  const jwk = generateJwkPair('ec', { namedCurve: 'P-256', ...JWK_PAIR }).privateKey;
  const point = Buffer.concat([Buffer.of(4), b64url(jwk.x), b64url(jwk.y)]);
  const d = b64url(jwk.d);
  const type = 'ecdsa-sha2-nistp256';
  const curve = 'nistp256';
  const publicBlob = new WireWriter(4 + type.length + 4 + curve.length + 4 + point.length)
    .ascii(type)
    .ascii(curve)
    .string(point)
    .finish();
  const privatePart = new WireWriter(publicBlob.length + 4 + mpintLength(d))
    .raw(publicBlob)
    .mpint(d)
    .finish();
  return { type, publicBlob, privatePart, bits: 256 };
}

/** The openssh-key-v1 container around one unencrypted key, armoured as PEM. */
function encodePrivateKey(key: EncodedKey, comment: string): string {
  const commentLength = Buffer.byteLength(comment, 'utf8');
  const unpadded = 8 + key.privatePart.length + 4 + commentLength;
  const padding = (BLOCK_SIZE - (unpadded % BLOCK_SIZE)) % BLOCK_SIZE;
  const sectionLength = unpadded + padding;
  const out = new WireWriter(HEADER.length + 4 + key.publicBlob.length + 4 + sectionLength)
    .raw(HEADER)
    .string(key.publicBlob)
    .uint32(sectionLength);
  // Two equal random check ints let a decrypting reader detect a wrong passphrase. randomInt
  // draws from Node's cached CSPRNG bytes, several times cheaper than a 4-byte randomFill.
  const check = randomInt(0x1_0000_0000);
  out.uint32(check).uint32(check).raw(key.privatePart).utf8(comment, commentLength);
  for (let i = 1; i <= padding; i++) out.buf[out.offset++] = i;
  const base64 = out.finish().toString('base64');
  let pem = PEM_BEGIN;
  for (let i = 0; i < base64.length; i += PEM_COLUMNS) pem += `${base64.slice(i, i + PEM_COLUMNS)}\n`;
  return pem + PEM_END;
}
