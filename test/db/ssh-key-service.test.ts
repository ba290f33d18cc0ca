import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, GoneError, InvalidPublicKeyError, NotFoundError } from '../../src/domain/errors.ts';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { createKeyring, generateMasterKey } from '../../src/domain/vault/keyring.ts';
import { type KeyGenerator, SshKeyService } from '../../src/services/ssh-key-service.ts';
import { DbSecretStore, EncryptedSecretStore, type SecretStore } from '../../src/store/secrets.ts';
import { listKeys } from '../../src/store/ssh-keys.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';

const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;
const keygen: KeyGenerator = { generate: async (options) => generateKeyPair(options) };

function sshKeygenPublicKey(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-import-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'laptop', '-f', join(dir, 'id')]);
    return readFileSync(join(dir, 'id.pub'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(testEngines())('SSH key service on %s', (engine: EngineName) => {
  let t: TestDatabase;
  let secrets: SecretStore;
  let service: SshKeyService;
  const invalidated: string[] = [];

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    secrets = new EncryptedSecretStore(new DbSecretStore(), createKeyring([generateMasterKey('k1')]));
    service = new SshKeyService({
      authz: t.authz,
      secrets,
      keygen,
      onKeysChanged: async (userId) => {
        invalidated.push(userId);
      },
    });
  });
  afterAll(() => t.close());

  const auditOf = async (userId: string) =>
    rowsOf<{
      operation: string;
      outcome: string;
      ssh_key_id: string | null;
      request_id: string | null;
      details: unknown;
      actor: string;
    }>(
      await t.authz.asService('test: read audit', (tx) =>
        tx.execute(
          sql`select operation, outcome, ssh_key_id, request_id, details, actor from ssh_key_audit_log where user_id = ${userId} order by created_at, id`,
        ),
      ),
    );

  it('generates a key, stores its private half encrypted and shows it once', async () => {
    const userId = await t.createUser();
    const { key, privateKey } = await service.createKey(userId, { name: 'laptop' }, { requestId: 'req-1' });
    expect(privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(key).toMatchObject({
      name: 'laptop',
      algorithm: 'ed25519',
      source: 'generated',
      hasPrivateKey: true,
      privateKeyDownloaded: true,
    });
    expect(key).not.toHaveProperty('privateKey');
    const stored = rowsOf<{ ciphertext: Buffer }>(
      await t.authz.asService('test: raw vault', (tx) =>
        tx.execute(sql`select ciphertext from vault_secrets where owner_id = ${userId}`),
      ),
    );
    expect(stored).toHaveLength(1);
    expect(Buffer.from(stored[0]!.ciphertext).toString('latin1')).not.toContain('OPENSSH');
    await expect(service.downloadPrivateKey(userId, key.id)).rejects.toThrow(GoneError);
    const audit = await auditOf(userId);
    expect(audit[0]).toMatchObject({
      operation: 'key.generated',
      outcome: 'success',
      ssh_key_id: key.id,
      request_id: 'req-1',
      actor: `user:${userId}`,
    });
    expect(JSON.stringify(audit)).not.toContain('PRIVATE KEY');
  });

  it('hands out a background-generated private key exactly once, also when two requests race', async () => {
    const userId = await t.createUser();
    const [key] = await service.ensureUserHasSSHKeys(userId);
    expect(key).toMatchObject({ isDefault: true, privateKeyDownloaded: false });
    const results = await Promise.allSettled([
      service.downloadPrivateKey(userId, key!.id),
      service.downloadPrivateKey(userId, key!.id),
      service.downloadPrivateKey(userId, key!.id),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const pem = (won[0] as PromiseFulfilledResult<{ privateKey: string }>).value.privateKey;
    expect(pem).toContain('BEGIN OPENSSH PRIVATE KEY');
    for (const r of results.filter((r) => r.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(GoneError);
    const outcomes = (await auditOf(userId))
      .filter((a) => a.operation === 'key.private_key_downloaded')
      .map((a) => a.outcome);
    expect(outcomes.sort()).toEqual(['failure', 'failure', 'success']);
  });

  it('creates the default key exactly once under concurrent calls', async () => {
    const userId = await t.createUser();
    const lists = await Promise.all(Array.from({ length: 8 }, () => service.ensureUserHasSSHKeys(userId)));
    const ids = new Set(lists.map((keys) => keys.map((k) => k.id).join()));
    expect(ids.size).toBe(1);
    expect(lists[0]).toHaveLength(1);
    // The winner answers with the row it stored, the losers with a read: the same key.
    const stored = await t.authz.withUser(userId, (tx) => listKeys(tx, userId));
    for (const keys of lists) expect(keys).toEqual(stored);
    const vaultRows = rowsOf(
      await t.authz.asService('test: count secrets', (tx) =>
        tx.execute(sql`select id from vault_secrets where owner_id = ${userId}`),
      ),
    );
    expect(vaultRows).toHaveLength(1);
    expect((await auditOf(userId)).filter((a) => a.operation === 'key.default_created')).toHaveLength(1);
  });

  it('imports a public key made by ssh-keygen and refuses it twice', async () => {
    const userId = await t.createUser();
    const publicKey = sshKeygenPublicKey();
    const key = await service.importKey(userId, { name: 'laptop', publicKey });
    expect(key).toMatchObject({ source: 'imported', algorithm: 'ed25519', hasPrivateKey: false });
    expect(key.publicKey).toBe(publicKey.trim());
    expect(await service.getSSHKeyByFingerprint(userId, key.fingerprintMd5)).toMatchObject({ id: key.id });
    expect(await service.getSSHKeyByFingerprint(userId, key.fingerprintSha256)).toMatchObject({ id: key.id });
    await expect(service.importKey(userId, { name: 'again', publicKey })).rejects.toThrow(ConflictError);
    await expect(service.downloadPrivateKey(userId, key.id)).rejects.toThrow(GoneError);
  });

  it('refuses a pasted private key with a clear error and audits the failure without the key', async () => {
    const userId = await t.createUser();
    const pasted = generateKeyPair({ comment: 'x' }).privateKey;
    const error = await service.importKey(userId, { name: 'oops', publicKey: pasted }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(InvalidPublicKeyError);
    expect((error as Error).message).not.toContain(pasted.split('\n')[1]!.slice(0, 20));
    const audit = await auditOf(userId);
    expect(audit).toEqual([expect.objectContaining({ operation: 'key.imported', outcome: 'failure' })]);
    expect(JSON.stringify(audit)).not.toContain(pasted.split('\n')[1]!.slice(0, 20));
  });

  it('does not return, delete or hand out another user’s key', async () => {
    const alice = await t.createUser();
    const bob = await t.createUser();
    const { key } = await service.createKey(alice, { name: 'alice' });
    const [aliceDefault] = await service.ensureUserHasSSHKeys(alice);
    await expect(service.getUserSSHKey(bob, key.id)).rejects.toThrow(NotFoundError);
    expect(await service.getSSHKeyByFingerprint(bob, key.fingerprintSha256)).toBeNull();
    await expect(service.deleteUserSSHKey(bob, key.id)).rejects.toThrow(NotFoundError);
    await expect(service.downloadPrivateKey(bob, aliceDefault!.id)).rejects.toThrow(NotFoundError);
    expect((await service.getUserSSHKeys(alice)).map((k) => k.id)).toContain(key.id);
    expect(await service.getUserSSHKeys(bob)).toEqual([]);
  });

  it('tells the cache when a key is generated or imported, so the next deploy carries it', async () => {
    const userId = await t.createUser();
    await service.createKey(userId, { name: 'new' });
    expect(invalidated.filter((u) => u === userId)).toHaveLength(1);
    await service.importKey(userId, { name: 'laptop', publicKey: sshKeygenPublicKey() });
    expect(invalidated.filter((u) => u === userId)).toHaveLength(2);
  });

  it('deletes a key with its vault secret and tells the cache before returning', async () => {
    const userId = await t.createUser();
    const { key } = await service.createKey(userId, { name: 'temp', algorithm: 'ecdsa-p256' });
    await service.deleteUserSSHKey(userId, key.id, { requestId: 'req-del' });
    expect(invalidated).toContain(userId);
    expect(await service.getUserSSHKeys(userId)).toEqual([]);
    const left = rowsOf(
      await t.authz.asService('test: secrets left', (tx) =>
        tx.execute(sql`select id from vault_secrets where owner_id = ${userId}`),
      ),
    );
    expect(left).toEqual([]);
    expect((await auditOf(userId)).at(-1)).toMatchObject({
      operation: 'key.deleted',
      outcome: 'success',
      ssh_key_id: key.id,
      request_id: 'req-del',
    });
  });

  it('keeps a key when the cache invalidation cannot be published', async () => {
    const userId = await t.createUser();
    const failing = new SshKeyService({
      authz: t.authz,
      secrets,
      keygen,
      onKeysChanged: async () => {
        throw new Error('publish failed');
      },
    });
    const { key } = await service.createKey(userId, { name: 'kept' });
    await expect(failing.deleteUserSSHKey(userId, key.id)).rejects.toThrow('publish failed');
    expect((await service.getUserSSHKeys(userId)).map((k) => k.id)).toEqual([key.id]);
  });

  it('leaves neither secret nor key when storing fails half-way', async () => {
    // Below the encryption layer a secret has no master key id, which the table refuses:
    // the secret's half of the store fails after the key's half has run.
    const broken = new SshKeyService({ authz: t.authz, secrets: new DbSecretStore(), keygen });
    const stores = [
      ['key.generated', (userId: string) => broken.createKey(userId, { name: 'half' })],
      ['key.default_created', (userId: string) => broken.ensureUserHasSSHKeys(userId)],
    ] as const;
    for (const [operation, store] of stores) {
      const userId = await t.createUser();
      await expect(store(userId)).rejects.toThrow(/key_id/);
      expect(await service.getUserSSHKeys(userId)).toEqual([]);
      const left = rowsOf(
        await t.authz.asService('test: secrets left', (tx) =>
          tx.execute(sql`select id from vault_secrets where owner_id = ${userId}`),
        ),
      );
      expect(left).toEqual([]);
      expect(await auditOf(userId)).toEqual([expect.objectContaining({ operation, outcome: 'failure' })]);
    }
  });

  it('reads a private key for service use through the named service path', async () => {
    const userId = await t.createUser();
    const [key] = await service.ensureUserHasSSHKeys(userId);
    const pem = await service.readPrivateKeyAsService(key!.id, 'test login');
    expect(pem).toContain('BEGIN OPENSSH PRIVATE KEY');
    expect((await auditOf(userId)).at(-1)).toMatchObject({
      operation: 'key.private_key_read',
      actor: 'service:test login',
    });
  });

  it('rejects a bad key name with a clear error and audits the refusal', async () => {
    const userId = await t.createUser();
    await expect(service.createKey(userId, { name: '  ' })).rejects.toThrow('A key needs a name.');
    await expect(service.createKey(userId, { name: 'a\nb' })).rejects.toThrow(/control characters/);
    expect(await auditOf(userId)).toEqual([
      expect.objectContaining({
        operation: 'key.generated',
        outcome: 'failure',
        details: expect.objectContaining({ errorCode: 'invalid_input' }),
      }),
      expect.objectContaining({ operation: 'key.generated', outcome: 'failure' }),
    ]);
  });

  it('audits a key generation that fails', async () => {
    const userId = await t.createUser();
    const failingKeygen = {
      generate: async () => {
        throw new Error('worker died');
      },
    };
    const broken = new SshKeyService({ authz: t.authz, secrets, keygen: failingKeygen });
    await expect(broken.createKey(userId, { name: 'x', algorithm: 'rsa' })).rejects.toThrow('worker died');
    expect(await auditOf(userId)).toEqual([
      expect.objectContaining({
        operation: 'key.generated',
        outcome: 'failure',
        details: { algorithm: 'rsa', errorCode: 'internal' },
      }),
    ]);
  });

  it('stores a generated pair with storeUserSSHKey and audits it', async () => {
    const userId = await t.createUser();
    const pair = await service.generateSSHKeyPair('ed25519', 'mine');
    const key = await service.storeUserSSHKey(
      userId,
      pair,
      { name: 'stored', isDefault: false, privateKeyShown: false },
      { requestId: 'req-store' },
    );
    expect(key).toMatchObject({ name: 'stored', fingerprintSha256: pair.fingerprintSha256 });
    expect(await auditOf(userId)).toEqual([
      expect.objectContaining({
        operation: 'key.generated',
        outcome: 'success',
        ssh_key_id: key!.id,
        request_id: 'req-store',
      }),
    ]);
  });

  it('records nothing when a stored default key gives way to the one the user has', async () => {
    const userId = await t.createUser();
    const [first] = await service.ensureUserHasSSHKeys(userId);
    const before = await auditOf(userId);
    const pair = await service.generateSSHKeyPair('ed25519', 'second default');
    const stored = await service.storeUserSSHKey(userId, pair, {
      name: 'default',
      isDefault: true,
      privateKeyShown: false,
    });
    expect(stored).toBeNull();
    expect(await auditOf(userId)).toEqual(before);
    expect((await service.getUserSSHKeys(userId)).map((k) => k.id)).toEqual([first!.id]);
  });

  it('audits a service read of a private key that does not decrypt, against the key’s owner', async () => {
    const userId = await t.createUser();
    const [key] = await service.ensureUserHasSSHKeys(userId);
    await t.authz.asService('test: tamper with the secret', (tx) =>
      tx.execute(
        sql`update vault_secrets set ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 255) where owner_id = ${userId}`,
      ),
    );
    await expect(service.readPrivateKeyAsService(key!.id, 'test login')).rejects.toThrow();
    expect((await auditOf(userId)).at(-1)).toMatchObject({
      operation: 'key.private_key_read',
      outcome: 'failure',
      ssh_key_id: key!.id,
      actor: 'service:test login',
    });
  });
});
