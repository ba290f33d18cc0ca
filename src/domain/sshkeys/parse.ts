/**
 * Parses a public key that a user pastes to import their own key. Users paste all sorts of
 * things into that box, so this is deliberately strict and explains every refusal in words
 * a person can act on: a private key by mistake, an authorized_keys line with options, a
 * DSA or short RSA key, several keys at once, a key damaged in copying. Keys that pass are
 * checked as OpenSSH would check them (point on the curve, modulus well formed, no stray
 * bytes), Ed25519 points also as libsodium would (canonical, not of small order), and come
 * back normalised, with the fingerprints `ssh-keygen -l` would print.
 * Refusal messages never repeat the input, since that may be a secret pasted by mistake.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { InvalidPublicKeyError } from '../errors.ts';
import { hasControlCharacters } from './comment.ts';
import { ed25519PointProblem } from './ed25519-point.ts';
import { fingerprintMd5, fingerprintSha256 } from './fingerprint.ts';
import { publicKeyLine } from './generate.ts';
import { bitLength, WireError, WireReader } from './wire.ts';

export type PublicKeyAlgorithm =
  | 'ed25519'
  | 'rsa'
  | 'ecdsa-p256'
  | 'ecdsa-p384'
  | 'ecdsa-p521'
  | 'sk-ed25519'
  | 'sk-ecdsa-p256';

export interface ParsedPublicKey {
  algorithm: PublicKeyAlgorithm;
  /** The wire name, such as `ssh-ed25519`. */
  type: string;
  blob: Buffer;
  comment: string;
  bits: number;
  /** `type base64 comment`, one line, re-encoded from the blob. */
  publicKey: string;
  fingerprintSha256: string;
  fingerprintMd5: string;
}

/** Largest accepted input; the biggest RSA key OpenSSH makes is about 2.8 KiB as text. */
export const MAX_PUBLIC_KEY_INPUT_BYTES = 16 * 1024;
export const MIN_RSA_BITS = 2048;
// OpenSSH refuses RSA moduli above this size.
const MAX_RSA_BITS = 16384;

interface Curve {
  name: string;
  jwk: string;
  coordinateBytes: number;
}
const P256: Curve = { name: 'nistp256', jwk: 'P-256', coordinateBytes: 32 };
const P384: Curve = { name: 'nistp384', jwk: 'P-384', coordinateBytes: 48 };
const P521: Curve = { name: 'nistp521', jwk: 'P-521', coordinateBytes: 66 };

interface KeyType {
  algorithm: PublicKeyAlgorithm;
  kind: 'ed25519' | 'rsa' | 'ecdsa';
  curve?: Curve;
  /** Security-key types end with the FIDO application string. */
  sk?: boolean;
}

const KEY_TYPES = new Map<string, KeyType>(
  Object.entries({
    'ssh-ed25519': { algorithm: 'ed25519', kind: 'ed25519' },
    'ssh-rsa': { algorithm: 'rsa', kind: 'rsa' },
    'ecdsa-sha2-nistp256': { algorithm: 'ecdsa-p256', kind: 'ecdsa', curve: P256 },
    'ecdsa-sha2-nistp384': { algorithm: 'ecdsa-p384', kind: 'ecdsa', curve: P384 },
    'ecdsa-sha2-nistp521': { algorithm: 'ecdsa-p521', kind: 'ecdsa', curve: P521 },
    'sk-ssh-ed25519@openssh.com': { algorithm: 'sk-ed25519', kind: 'ed25519', sk: true },
    'sk-ecdsa-sha2-nistp256@openssh.com': {
      algorithm: 'sk-ecdsa-p256',
      kind: 'ecdsa',
      curve: P256,
      sk: true,
    },
  } satisfies Record<string, KeyType>),
);

const ACCEPTED =
  'berth accepts ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa of 2048 bits or more, and the ' +
  'security-key types sk-ssh-ed25519@openssh.com and sk-ecdsa-sha2-nistp256@openssh.com.';
const PRIVATE_KEY_PASTED =
  'This is a private key, not a public key. Keep it secret: paste the contents of the matching ' +
  '.pub file instead (for example ~/.ssh/id_ed25519.pub). Nothing you pasted was stored.';
const DSA =
  'DSA (ssh-dss) keys are no longer secure and OpenSSH has dropped them; use an Ed25519 key instead.';
const NOT_MADE_BY_SSH_KEYGEN =
  'No key made by ssh-keygen looks like this; copy the whole line of the .pub file again.';
const DAMAGED = 'The key data is damaged or cut off; copy the whole line of the .pub file again.';
const SEVERAL_KEYS_ON_ONE_LINE =
  'Paste a single public key: the line holds several keys one after another. Import each key on its own.';

const fail = (message: string): never => {
  throw new InvalidPublicKeyError(message);
};

export function parsePublicKey(text: string): ParsedPublicKey {
  if (typeof text !== 'string') fail('The public key must be text.');
  if (text.length > MAX_PUBLIC_KEY_INPUT_BYTES || Buffer.byteLength(text) > MAX_PUBLIC_KEY_INPUT_BYTES) {
    fail(
      `The public key is too long; a public key is one line of well under ${MAX_PUBLIC_KEY_INPUT_BYTES / 1024} KiB.`,
    );
  }
  rejectOtherFormats(text);
  const lines = text.split(/\r\n|\r|\n/).filter((line) => line.trim() !== '');
  if (lines.length === 0) fail('No public key was given.');
  if (lines.length > 1)
    fail('Paste a single public key: the text has several lines. Import each key on its own.');

  const line = lines[0]!.trim();
  const fields = /^(\S+)(?:\s+(\S+))?(?:\s+(.*))?$/.exec(line);
  const type = fields?.[1] ?? '';
  const data = fields?.[2];
  const comment = fields?.[3]?.trim() ?? '';
  const keyType = lookUpType(type, line);
  if (data === undefined)
    fail('The key data is missing; a public key line is its type, then the key, then a comment.');
  // Checked before control characters, so that two keys joined by a tab get this message.
  if (holdsAnotherKey(comment)) fail(SEVERAL_KEYS_ON_ONE_LINE);
  if (hasControlCharacters(comment))
    fail('The key comment must not contain control characters such as tabs.');

  const blob = decodeBase64(data!);
  const bits = readBlob(blob, type, keyType);
  return {
    algorithm: keyType.algorithm,
    type,
    blob,
    comment,
    bits,
    publicKey: publicKeyLine(type, blob, comment),
    fingerprintSha256: fingerprintSha256(blob),
    fingerprintMd5: fingerprintMd5(blob),
  };
}

/**
 * Whether a comment carries a second key, as when two .pub lines were joined into one. A
 * type name alone is an ordinary comment word, so it is taken for a key only when the next
 * word starts as SSH key data does: with "AAAA", the base64 of the three zero bytes that
 * begin the length of the short type name. Comments that merely mention a type still pass.
 */
function holdsAnotherKey(comment: string): boolean {
  const words = comment.split(/\s+/);
  return words.some(
    (word, i) => (KEY_TYPES.has(word) || word === 'ssh-dss') && words[i + 1]?.startsWith('AAAA') === true,
  );
}

/** Refuses private keys and the public key formats that are not an authorized_keys line. */
function rejectOtherFormats(text: string): void {
  // "b3BlbnNzaC1rZXktdjE" is the base64 of "openssh-key-v1", an unarmoured private key body.
  if (/PRIVATE KEY|PuTTY-User-Key-File|b3BlbnNzaC1rZXktdjE/i.test(text)) fail(PRIVATE_KEY_PASTED);
  if (text.includes('BEGIN SSH2 PUBLIC KEY')) {
    fail('This is an RFC 4716 (SSH2) public key; convert it first with `ssh-keygen -i -f key.pub`.');
  }
  if (text.includes('-----BEGIN')) {
    fail('This is a PEM public key; convert it to OpenSSH format with `ssh-keygen -i -m PKCS8 -f key.pem`.');
  }
}

/** The accepted key type named at the start of the line, or a refusal that says why not. */
function lookUpType(type: string, line: string): KeyType {
  const known = KEY_TYPES.get(type);
  if (known) return known;
  if (type === 'ssh-dss') fail(DSA);
  if (type.endsWith('-cert-v01@openssh.com')) {
    fail('SSH certificates cannot be imported; paste the plain public key (the .pub file without -cert).');
  }
  const words = line.split(/\s+/);
  if (words.slice(1).some((word) => KEY_TYPES.has(word) || word === 'ssh-dss')) {
    fail(
      'The line starts with authorized_keys options (such as command="..." or no-pty). ' +
        'Paste only the key itself, starting with its type, for example ssh-ed25519.',
    );
  }
  if (type.startsWith('AAAA'))
    fail('The key type is missing; a public key line starts with it, as in ssh-ed25519 AAAA...');
  return fail(`This is not a supported OpenSSH public key. ${ACCEPTED}`);
}

function decodeBase64(data: string): Buffer {
  if (data.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) fail(DAMAGED);
  const blob = Buffer.from(data, 'base64');
  // Node decodes leniently; a round trip catches stray bits that no encoder would produce.
  if (blob.toString('base64') !== data) fail(DAMAGED);
  return blob;
}

/** Checks the blob against the stated type and returns the key size in bits. */
function readBlob(blob: Buffer, type: string, keyType: KeyType): number {
  const reader = new WireReader(blob);
  try {
    const innerType = reader.ascii();
    if (innerType !== type) {
      const named = KEY_TYPES.has(innerType) || innerType === 'ssh-dss' ? ` (${innerType})` : '';
      fail(`The key type in the text (${type}) does not match the type inside the key data${named}.`);
    }
    let bits: number;
    if (keyType.kind === 'ed25519') bits = readEd25519(reader);
    else if (keyType.kind === 'ecdsa') bits = readEcdsa(reader, keyType.curve!);
    else bits = readRsa(reader);
    // Security keys add the FIDO application, normally "ssh:", after the public key.
    if (keyType.sk) reader.ascii();
    reader.end();
    return bits;
  } catch (error) {
    if (error instanceof WireError) fail(`${DAMAGED} (${error.message})`);
    throw error;
  }
}

function readEd25519(reader: WireReader): number {
  const point = reader.string();
  if (point.length !== 32) fail('The Ed25519 key data has the wrong length.');
  // OpenSSL takes any 32 bytes as an Ed25519 key, the identity point included, under which
  // a made-up signature verifies for every message; so the point is checked here instead.
  const problem = ed25519PointProblem(point);
  if (problem) fail(`The Ed25519 key is not valid: its point is ${problem}. ${NOT_MADE_BY_SSH_KEYGEN}`);
  return 256;
}

function readEcdsa(reader: WireReader, curve: Curve): number {
  if (reader.ascii() !== curve.name) fail(`The ECDSA key data names a curve other than ${curve.name}.`);
  const point = reader.string();
  const size = curve.coordinateBytes;
  // OpenSSH only writes uncompressed points: 0x04, then x and y.
  if (point.length !== 1 + 2 * size || point[0] !== 4)
    fail(`The ECDSA key data is not a ${curve.name} point.`);
  const jwk = {
    kty: 'EC',
    crv: curve.jwk,
    x: point.subarray(1, 1 + size).toString('base64url'),
    y: point.subarray(1 + size).toString('base64url'),
  };
  checkWithOpenSsl(jwk, `The ECDSA key is not a point on the ${curve.name} curve.`);
  return curve.name === 'nistp521' ? 521 : size * 8;
}

function readRsa(reader: WireReader): number {
  const e = reader.mpint();
  const n = reader.mpint();
  const bits = bitLength(n);
  if (bits < MIN_RSA_BITS) {
    fail(
      `RSA keys must have at least ${MIN_RSA_BITS} bits; this one has ${bits}. Use an Ed25519 key instead.`,
    );
  }
  if (bits > MAX_RSA_BITS) fail(`RSA keys can have at most ${MAX_RSA_BITS} bits; this one has ${bits}.`);
  // A modulus and public exponent are both odd, and the exponent is small and above 1.
  const odd = (value: Buffer) => ((value[value.length - 1] ?? 0) & 1) === 1;
  if (!odd(n) || !odd(e) || e.length > 8 || bitLength(e) < 2)
    fail('The RSA key data is not a valid RSA key.');
  checkWithOpenSsl(
    { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') },
    'The RSA key data is not a valid RSA key.',
  );
  return bits;
}

/** Lets OpenSSL import the key, which checks, among other things, that a point is on its curve. */
function checkWithOpenSsl(jwk: JsonWebKey, message: string): void {
  try {
    createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    fail(message);
  }
}
