/**
 * Idempotent registration of a user's public key on the DigitalOcean account, which every
 * deploy does before creating a droplet. It looks the key up by fingerprint first, because
 * DigitalOcean allows only 10 key listings a minute per token; it creates the key only when
 * the lookup answers 404; and it reads DigitalOcean's 422 "SSH Key is already in use on
 * your account" (uniqueness is by key material) as "it exists": a concurrent deploy or an
 * earlier, retried create won the race, so the key is fetched by fingerprint.
 */
import { InvalidInputError } from '../../domain/errors.ts';
import { DigitalOceanNotFoundError, DigitalOceanUnprocessableError } from '../errors.ts';
import type { SshKey } from './resources.ts';
import type { ClientLogger } from './transport.ts';

export interface SshKeyToEnsure {
  name: string;
  publicKey: string;
  /** MD5 of the key blob, colon-separated hex, as DigitalOcean identifies keys. */
  fingerprintMd5: string;
}

export interface EnsureSshKeyDeps {
  getByFingerprint(fingerprint: string): Promise<SshKey>;
  create(key: { name: string; publicKey: string }): Promise<SshKey>;
  logger: ClientLogger;
}

export async function ensureSshKeyOn(
  key: SshKeyToEnsure,
  deps: EnsureSshKeyDeps,
  options: { createFirst?: boolean } = {},
): Promise<SshKey> {
  const fingerprint = key.fingerprintMd5.toLowerCase();
  // Lookup first, unless the caller knows the key is new (berth generated it from fresh
  // randomness): then the create alone is one round trip, and "already in use" still
  // falls back to the lookup.
  if (!options.createFirst) {
    try {
      return await deps.getByFingerprint(fingerprint);
    } catch (error) {
      if (!(error instanceof DigitalOceanNotFoundError)) throw error;
    }
  }
  let created: SshKey;
  try {
    created = await deps.create({ name: key.name, publicKey: key.publicKey });
  } catch (error) {
    if (error instanceof DigitalOceanUnprocessableError && /already in use/i.test(error.doMessage)) {
      deps.logger.debug({ fingerprint }, 'SSH key already on the DigitalOcean account; fetching it');
      return deps.getByFingerprint(fingerprint);
    }
    throw error;
  }
  if (created.fingerprint !== fingerprint) {
    // The caller's fingerprint is wrong, so later lookups by it would never find this key.
    throw new InvalidInputError(
      `the fingerprint given for SSH key "${key.name}" is not the one DigitalOcean computed for its public key`,
      { given: fingerprint, digitalocean: created.fingerprint },
    );
  }
  return created;
}
