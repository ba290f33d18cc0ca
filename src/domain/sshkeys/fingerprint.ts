/**
 * Public key fingerprints, computed over the SSH wire blob exactly as OpenSSH does, so that
 * what berth shows matches `ssh-keygen -l` and what DigitalOcean shows for the same key.
 * Generation and import both use these, so the two paths can never disagree. The one-shot
 * `hash()` is used because it costs half of a createHash() round trip on these tiny inputs.
 */
import { hash } from 'node:crypto';

/** `SHA256:` and unpadded base64, the form `ssh-keygen -l` prints by default. */
export function fingerprintSha256(blob: Buffer): string {
  const digest = hash('sha256', blob, 'base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/**
 * Lowercase hex pairs joined by colons and without the `MD5:` prefix, which is how the
 * DigitalOcean API identifies an account's SSH keys.
 */
export function fingerprintMd5(blob: Buffer): string {
  const hex = hash('md5', blob, 'hex');
  let out = hex.slice(0, 2);
  for (let i = 2; i < hex.length; i += 2) out += `:${hex.slice(i, i + 2)}`;
  return out;
}
