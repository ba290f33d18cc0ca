/**
 * Operator secrets kept in berth's vault rather than in the environment: today, the
 * DigitalOcean API token. An operator stores it once (`berth vault set-digitalocean-token`,
 * reading standard input so it never lands in shell history), every berth process reads
 * it from the shared database, and replacing it takes effect within a minute without a
 * restart. It is envelope-encrypted like every other secret and owned by no user.
 */
import type { Authz } from '../db/authz.ts';
import type { SecretStore } from '../store/secrets.ts';

/** A fixed id: there is one DigitalOcean token per berth installation. */
export const DIGITALOCEAN_TOKEN_SECRET_ID = '00000000-0000-4000-8000-00000000d0d0';

export async function storeDigitalOceanToken(
  authz: Authz,
  secrets: SecretStore,
  token: string,
): Promise<void> {
  const value = token.trim();
  if (!/^[\x21-\x7e]{16,512}$/.test(value))
    throw new TypeError('That does not look like a DigitalOcean API token.');
  await authz.asService('store the DigitalOcean token', async (tx) => {
    await secrets.delete(tx, DIGITALOCEAN_TOKEN_SECRET_ID);
    await secrets.insert(tx, {
      id: DIGITALOCEAN_TOKEN_SECRET_ID,
      ownerId: null,
      name: 'digitalocean-token',
      value: Buffer.from(value),
      keyId: null,
      wrappedKey: null,
      nonce: null,
    });
  });
}

export async function readDigitalOceanToken(authz: Authz, secrets: SecretStore): Promise<string | null> {
  const secret = await authz.asService('read the DigitalOcean token', (tx) =>
    secrets.get(tx, DIGITALOCEAN_TOKEN_SECRET_ID),
  );
  return secret ? secret.value.toString('utf8') : null;
}

/** A token provider over the vault, re-reading at most once per `ttlMs`. */
export function vaultTokenProvider(authz: Authz, secrets: SecretStore, first: string, ttlMs = 60_000) {
  let token = first;
  let readAt = Date.now();
  return async (): Promise<string> => {
    if (Date.now() - readAt > ttlMs) {
      readAt = Date.now();
      token = (await readDigitalOceanToken(authz, secrets).catch(() => null)) ?? token;
    }
    return token;
  };
}
