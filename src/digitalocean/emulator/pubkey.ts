/**
 * The little the emulator needs to know about an OpenSSH public key line: that it has
 * a known type and a base64 blob whose embedded type agrees, and its MD5 fingerprint
 * the way DigitalOcean reports it (colon-separated lowercase hex of the blob's MD5, no
 * prefix). This is deliberately minimal and independent of berth's own key handling,
 * because the emulator stands in for DigitalOcean, not for berth.
 */
import { createHash } from 'node:crypto';

const KNOWN_TYPES = new Set([
  'ssh-rsa',
  'ssh-dss',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

export interface ParsedPublicKey {
  type: string;
  blob: Buffer;
  fingerprint: string;
}

/** MD5 of the key blob as `aa:bb:...`, what `ssh-keygen -E md5 -lf` prints without `MD5:`. */
export function md5Fingerprint(blob: Buffer): string {
  const hex = createHash('md5').update(blob).digest('hex');
  return hex.match(/../g)!.join(':');
}

/** Parses `type base64 [comment]`; returns undefined for anything that is not such a line. */
export function parsePublicKey(line: string): ParsedPublicKey | undefined {
  const [type, data] = line.trim().split(/\s+/);
  if (!type || !data || !KNOWN_TYPES.has(type)) return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data) || data.length % 4 !== 0) return undefined;
  const blob = Buffer.from(data, 'base64');
  // The blob opens with its own type as an SSH string; a mismatch means a mangled paste.
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length > blob.length - 4 || blob.subarray(4, 4 + length).toString('latin1') !== type) return undefined;
  return { type, blob, fingerprint: md5Fingerprint(blob) };
}
