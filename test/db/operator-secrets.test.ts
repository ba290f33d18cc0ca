import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring, generateMasterKey } from '../../src/domain/vault/keyring.ts';
import {
  readDigitalOceanToken,
  storeDigitalOceanToken,
  vaultTokenProvider,
} from '../../src/services/operator-secrets.ts';
import { DbSecretStore, EncryptedSecretStore } from '../../src/store/secrets.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';

describe.each(testEngines())('the DigitalOcean token in the vault on %s', (engine: EngineName) => {
  let t: TestDatabase;
  const secrets = new EncryptedSecretStore(new DbSecretStore(), createKeyring([generateMasterKey('k1')]));
  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterAll(() => t.close());

  it('stores it encrypted, reads it back, and replaces it', async () => {
    expect(await readDigitalOceanToken(t.authz, secrets)).toBeNull();
    await storeDigitalOceanToken(t.authz, secrets, 'dop_v1_first_token_0123456789\n');
    const raw = (await t.authz.asService('test', (tx) =>
      tx.execute(sql`select ciphertext from vault_secrets`),
    )) as unknown as {
      rows: { ciphertext: Uint8Array }[];
    };
    expect(Buffer.from(raw.rows[0]!.ciphertext).toString('latin1')).not.toContain('dop_v1_first');
    expect(await readDigitalOceanToken(t.authz, secrets)).toBe('dop_v1_first_token_0123456789');
    await storeDigitalOceanToken(t.authz, secrets, 'dop_v1_second_token_0123456789');
    expect(await readDigitalOceanToken(t.authz, secrets)).toBe('dop_v1_second_token_0123456789');
  });

  it('is picked up by running berths after the provider’s refresh interval', async () => {
    await storeDigitalOceanToken(t.authz, secrets, 'dop_v1_old_token_0123456789');
    const provider = vaultTokenProvider(t.authz, secrets, 'dop_v1_old_token_0123456789', 0);
    await storeDigitalOceanToken(t.authz, secrets, 'dop_v1_new_token_0123456789');
    await new Promise((r) => setTimeout(r, 5));
    expect(await provider()).toBe('dop_v1_new_token_0123456789');
  });

  it('refuses something that is not a token', async () => {
    await expect(storeDigitalOceanToken(t.authz, secrets, 'short')).rejects.toThrow(/does not look like/);
  });
});
