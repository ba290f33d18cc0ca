/**
 * How to reach a tool environment over SSH, worked out from values: which of the user's
 * keys the droplet trusts, the file name berth gives that key's private half when it is
 * downloaded, and the `ssh` command to copy. Pure, so it is tested without a browser.
 */
import type { SshKey, ToolEnvironment } from '../api/client.ts';

/** The file name berth's private key download uses (see the private-key route). */
export function privateKeyFileName(key: Pick<SshKey, 'name' | 'algorithm'>): string {
  return `berth-${key.name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60)}-${key.algorithm}`;
}

/**
 * The key to log in with: one the droplet was given and whose private half the user got
 * from berth (the default key first), else any key the droplet was given.
 */
export function loginKey(env: Pick<ToolEnvironment, 'ssh_key_fingerprints'>, keys: SshKey[]): SshKey | null {
  const trusted = new Set(env.ssh_key_fingerprints);
  const candidates = keys.filter((k) => trusted.has(k.fingerprint_md5) || trusted.has(k.fingerprint_sha256));
  const rank = (k: SshKey) => (k.is_default ? 0 : k.source === 'generated' ? 1 : 2);
  return [...candidates].sort((a, b) => rank(a) - rank(b))[0] ?? null;
}

/** Where the private key file is, as the command names it. */
export function keyFilePath(key: SshKey | null): string {
  if (!key) return '~/.ssh/id_ed25519';
  if (key.source === 'generated') return `~/Downloads/${privateKeyFileName(key)}`;
  return `~/.ssh/id_${key.algorithm}`;
}

/**
 * `ssh -i <keyfile> <user>@<address>`, with `-p <port>` only when it is not SSH's own 22
 * (a light emulated droplet's shared port), or null until the droplet has an address.
 */
export function sshCommand(
  env: Pick<ToolEnvironment, 'ip_address' | 'ssh_port' | 'ssh_user'>,
  keyFile: string,
): string | null {
  if (!env.ip_address) return null;
  const host = env.ip_address.includes(':') ? `[${env.ip_address}]` : env.ip_address;
  const port = env.ssh_port === null || env.ssh_port === 22 ? '' : ` -p ${env.ssh_port}`;
  return `ssh -i ${keyFile}${port} ${env.ssh_user}@${host}`;
}
