/**
 * The SSH key service: the seed's SSHKeyService, done right. It generates real OpenSSH
 * key pairs (through the key generator, which keeps RSA off the event loop), stores the
 * private half in the vault and the metadata beside it in one transaction, imports a
 * user's own public keys, and hands out a generated private key once. Every user-facing
 * operation runs inside `withUser`, so row-level security scopes it; every operation
 * leaves an audit row, also when it fails.
 */
import { randomUUID } from 'node:crypto';
import type { SQL } from 'drizzle-orm';
import type { Authz } from '../db/authz.ts';
import type { Tx } from '../db/engine.ts';
import { BerthError, ConflictError, GoneError, InvalidInputError, NotFoundError } from '../domain/errors.ts';
import { DEFAULT_USER_LIMITS, requireRoomFor } from '../domain/limits.ts';
import { hasControlCharacters } from '../domain/sshkeys/comment.ts';
import type {
  GeneratedKeyPair,
  GenerateKeyPairOptions,
  SshKeyAlgorithm,
} from '../domain/sshkeys/generate.ts';
import { parsePublicKey } from '../domain/sshkeys/parse.ts';
import { type AuditEntry, type AuditOperation, auditStatement, writeAudit } from '../store/audit.ts';
import { countKeys, lockUserLimits } from '../store/limits.ts';
import type { SecretStore } from '../store/secrets.ts';
import type { UserSshKey } from '../store/ssh-keys.ts';
import * as keys from '../store/ssh-keys.ts';

export interface KeyGenerator {
  generate(options: GenerateKeyPairOptions): Promise<GeneratedKeyPair>;
}

/** Who is acting and under which request, for the audit trail. */
export interface OperationContext {
  requestId?: string;
  /** Defaults to `user:<id>`; background work names itself, e.g. `service:onboarding`. */
  actor?: string;
}

/** The context's request id as an outside call's options take it: absent when there is none. */
export function requestIdOf(ctx: OperationContext): { requestId?: string } {
  return ctx.requestId === undefined ? {} : { requestId: ctx.requestId };
}

/**
 * Called when a user's keys change (added, generated or deleted), inside the changing transaction and before it
 * commits (cache invalidation). Given the transaction, a listener can publish with
 * NOTIFY, which PostgreSQL delivers exactly when the change commits; if it throws, the
 * change is rolled back.
 */
export type KeyChangeListener = (userId: string, tx: Tx) => Promise<void>;

/** Where `getUserSSHKeys` keeps lists between reads (key-list-cache.ts). */
export interface KeyLists {
  get(
    userId: string,
    load: (userId: string) => Promise<readonly UserSshKey[]>,
  ): Promise<readonly UserSshKey[]>;
  invalidate(userId: string): void;
}

export interface SshKeyServiceDeps {
  authz: Authz;
  secrets: SecretStore;
  keygen: KeyGenerator;
  onKeysChanged?: KeyChangeListener;
  /** Without it every list is read from the database. */
  keyLists?: KeyLists;
  /** Keys one user may have (generated and imported); 0 means no limit. */
  maxKeysPerUser?: number;
}

export const DEFAULT_KEY_NAME = 'default';
const NAME_MAX = 100;

export class SshKeyService {
  private readonly deps: SshKeyServiceDeps;

  constructor(deps: SshKeyServiceDeps) {
    this.deps = deps;
  }

  /** Generates a key pair without storing it (pure work, RSA in a worker thread). */
  generateSSHKeyPair(algorithm: SshKeyAlgorithm = 'ed25519', comment = 'berth'): Promise<GeneratedKeyPair> {
    return this.deps.keygen.generate({ algorithm, comment });
  }

  /**
   * Generates a key for the user and returns its private half, which is therefore
   * counted as already downloaded: berth shows a private key once.
   */
  async createKey(
    userId: string,
    input: { name: string; algorithm?: SshKeyAlgorithm },
    ctx: OperationContext = {},
  ): Promise<{ key: UserSshKey; privateKey: string }> {
    const algorithm = input.algorithm ?? 'ed25519';
    const entry = auditEntry(userId, ctx, 'key.generated', { algorithm });
    let name: string;
    let pair: GeneratedKeyPair;
    try {
      // Outside the transaction, so that an RSA key's seconds in a worker hold no
      // connection; a bad name or a failed generation is still an audited failure.
      name = validName(input.name);
      pair = await this.generateSSHKeyPair(algorithm, `berth-${name}`);
    } catch (error) {
      await this.auditFailure(userId, entry, error);
      throw error;
    }
    const key = await this.storeUserSSHKey(
      userId,
      pair,
      { name, isDefault: false, privateKeyShown: true },
      ctx,
    );
    if (!key) throw new BerthError('internal', 'The key was not stored');
    return { key, privateKey: pair.privateKey };
  }

  /**
   * Stores a generated pair: the vault secret and the key row in one transaction, so a
   * failure between the two leaves neither. Returns null when `isDefault` is set and
   * the user already has a default key (the partial unique index decides).
   */
  storeUserSSHKey(
    userId: string,
    pair: GeneratedKeyPair,
    options: StoreOptions,
    ctx: OperationContext = {},
  ): Promise<UserSshKey | null> {
    const operation = options.isDefault ? 'key.default_created' : 'key.generated';
    return this.inUserTx(userId, ctx, operation, { algorithm: pair.algorithm }, async (tx) => {
      // A default key is made only for a user with none, so only other keys can overrun.
      if (!options.isDefault) await this.requireRoomForKey(tx, userId);
      const key = await keys.insertKey(tx, ...this.storeRow(userId, pair, options));
      if (key) await this.deps.onKeysChanged?.(userId, tx);
      return key;
    });
  }

  /** Imports the user's own public key after validating it (no private half exists). */
  importKey(userId: string, input: { name: string; publicKey: string }, ctx: OperationContext = {}) {
    return this.inUserTx(userId, ctx, 'key.imported', { source: 'imported' }, async (tx) => {
      const name = validName(input.name);
      const parsed = parsePublicKey(input.publicKey);
      const existing = await keys.getKeyByFingerprint(tx, userId, parsed.fingerprintSha256);
      if (existing) throw new ConflictError('This public key is already in your account.');
      await this.requireRoomForKey(tx, userId);
      const key = await keys.insertKey(tx, {
        id: randomUUID(),
        userId,
        name,
        algorithm: parsed.algorithm,
        source: 'imported',
        isDefault: false,
        publicKey: parsed.publicKey,
        fingerprintSha256: parsed.fingerprintSha256,
        fingerprintMd5: parsed.fingerprintMd5,
        privateKeySecretId: null,
        privateKeyDownloaded: false,
      });
      // A new key belongs on the user's next droplet: drop every process's cached set.
      await this.deps.onKeysChanged?.(userId, tx);
      return key as UserSshKey;
    });
  }

  getUserSSHKeys(userId: string): Promise<readonly UserSshKey[]> {
    // The list is read on every page of the UI: from the cache when it holds it, else in
    // one round trip (readAsUser), under the same row-level security as withUser.
    return this.deps.keyLists ? this.deps.keyLists.get(userId, this.loadKeyList) : this.loadKeyList(userId);
  }

  /**
   * Made once, not per read: a closure made on every read cost the cached read more
   * than the cache lookup (tsx names each new function it makes, with defineProperty).
   */
  private readonly loadKeyList = (userId: string) =>
    this.deps.authz.readAsUser(userId, keys.listKeysStatement(userId), keys.keyFromRow);

  async getUserSSHKey(userId: string, keyId: string): Promise<UserSshKey> {
    const key = await this.deps.authz.withUser(userId, (tx) => keys.getKey(tx, userId, keyId));
    if (!key) throw new NotFoundError('SSH key');
    return key;
  }

  getSSHKeyByFingerprint(userId: string, fingerprint: string): Promise<UserSshKey | null> {
    return this.deps.authz.withUser(userId, (tx) => keys.getKeyByFingerprint(tx, userId, fingerprint));
  }

  /**
   * Deletes a key and its vault secret together. The change listener (cache
   * invalidation across processes) runs inside the transaction: if it cannot publish,
   * the delete fails rather than leave a deleted key usable for a later deploy.
   */
  async deleteUserSSHKey(userId: string, keyId: string, ctx: OperationContext = {}): Promise<boolean> {
    await this.inUserTx(
      userId,
      ctx,
      'key.deleted',
      {},
      async (tx) => {
        // The database deletes the key's vault secret with it (migration 0007), whoever
        // deletes the key, so that no secret outlives its key.
        const deleted = await keys.deleteKey(tx, userId, keyId);
        if (!deleted) throw new NotFoundError('SSH key');
        await this.deps.onKeysChanged?.(userId, tx);
        return deleted;
      },
      keyId,
    );
    return true;
  }

  /**
   * Makes sure the user has at least one key, creating the default key when they have
   * none, and returns their keys. Concurrent calls create it exactly once: the partial
   * unique index makes the losers' inserts give way, and they read the winner's key.
   *
   * A brand-new user's first deploy waits for this, so it is one statement in one round
   * trip: store the default key, its vault secret and its audit row if the user has no
   * key, else return the keys they have. The key pair is therefore made before it is
   * known to be needed; for a user who has keys that wastes an ed25519 key's 50 µs, on
   * a path that only runs when the deploy's key cache missed. No publish is needed
   * beyond the trigger's notice: a user with no keys has no deployment keys cached.
   */
  async ensureUserHasSSHKeys(userId: string, ctx: OperationContext = {}): Promise<UserSshKey[]> {
    const options = { name: DEFAULT_KEY_NAME, isDefault: true, privateKeyShown: false };
    const audit = auditEntry(userId, ctx, 'key.default_created', { algorithm: 'ed25519' });
    try {
      const pair = await this.generateSSHKeyPair('ed25519', 'berth-default');
      const statement = keys.insertKeyStatement(
        ...this.storeRow(userId, pair, options, {
          audit: (keyId) => audit('success', keyId),
          unlessKeyed: true,
        }),
      );
      const [rows = []] = await this.deps.authz.scriptAsUser(userId, [statement]);
      if (rows.length > 0) return rows.map(keys.keyFromRow);
      // Another caller's default key committed while this insert waited on it, after
      // this statement's snapshot was taken: read it now.
      return await this.deps.authz.readAsUser(userId, keys.listKeysStatement(userId), keys.keyFromRow);
    } catch (error) {
      await this.auditFailure(userId, audit, error);
      throw error;
    } finally {
      this.deps.keyLists?.invalidate(userId);
    }
  }

  /**
   * The one-time download of a key berth generated in the background. The first call
   * gets the private key; every later one, including the loser of a race, gets Gone.
   */
  downloadPrivateKey(userId: string, keyId: string, ctx: OperationContext = {}) {
    return this.inUserTx(
      userId,
      ctx,
      'key.private_key_downloaded',
      {},
      async (tx) => {
        const key = await keys.getKey(tx, userId, keyId);
        if (!key) throw new NotFoundError('SSH key');
        if (!key.hasPrivateKey) throw new GoneError('berth holds no private key for an imported key.');
        const secretId = await keys.claimPrivateKeyDownload(tx, userId, keyId);
        if (!secretId)
          throw new GoneError('This private key was already downloaded; berth shows it only once.');
        const secret = await this.deps.secrets.get(tx, secretId);
        if (!secret) throw new NotFoundError('SSH key secret');
        return { key, privateKey: secret.value.toString('utf8') };
      },
      keyId,
    );
  }

  /**
   * Reads a private key for berth's own use (e.g. tests logging in to a droplet). A read
   * that fails (no such secret, or one that does not decrypt) is audited too, against the
   * key's owner, once the reading transaction has rolled back.
   */
  async readPrivateKeyAsService(keyId: string, reason: string, ctx: OperationContext = {}): Promise<string> {
    let ownerId: string | null = null;
    const entry = (userId: string) =>
      auditEntry(userId, { ...ctx, actor: ctx.actor ?? `service:${reason}` }, 'key.private_key_read', {});
    try {
      return await this.deps.authz.asService(`read private key: ${reason}`, async (tx) => {
        const found = await keys.getPrivateKeySecretId(tx, keyId);
        ownerId = found?.userId ?? null;
        const secret = found?.secretId ? await this.deps.secrets.get(tx, found.secretId) : null;
        if (!found || !secret) throw new NotFoundError('SSH key secret');
        await writeAudit(tx, entry(found.userId)('success', keyId));
        return secret.value.toString('utf8');
      });
    } catch (error) {
      // No owner means no such key: there is no user to record it against.
      const owner: string | null = ownerId;
      if (owner !== null) {
        const errorCode = error instanceof BerthError ? error.code : 'internal';
        await this.deps.authz
          .asService('audit a failed private key read', (tx) =>
            writeAudit(tx, entry(owner)('failure', keyId, { errorCode })),
          )
          .catch(() => {});
      }
      throw error;
    }
  }

  /**
   * What stores a generated pair, as `insertKey` takes it: the key row, with its sealed
   * secret (and with `audit`, its audit row) going in alongside if the key does.
   * `unlessKeyed`: see `insertKeyStatement`.
   */
  private storeRow(
    userId: string,
    pair: GeneratedKeyPair,
    options: StoreOptions,
    extra: { audit?: (keyId: string) => AuditEntry; unlessKeyed?: boolean } = {},
  ): [keys.NewSshKeyRow, keys.InsertKeyOptions] {
    const keyId = randomUUID();
    const secret = {
      id: randomUUID(),
      ownerId: userId,
      name: `ssh-private-key:${pair.fingerprintSha256}`,
      value: Buffer.from(pair.privateKey),
      keyId: null,
      wrappedKey: null,
      nonce: null,
    };
    const row = {
      id: keyId,
      userId,
      name: options.name,
      algorithm: pair.algorithm,
      source: 'generated' as const,
      isDefault: options.isDefault,
      publicKey: pair.publicKey,
      fingerprintSha256: pair.fingerprintSha256,
      fingerprintMd5: pair.fingerprintMd5,
      privateKeySecretId: secret.id,
      privateKeyDownloaded: options.privateKeyShown,
    };
    const { audit } = extra;
    const alongside = [(keyInserted: SQL) => this.deps.secrets.insertStatement(secret, keyInserted)];
    if (audit) alongside.push((keyInserted) => auditStatement(audit(keyId), keyInserted));
    return [row, { alongside, unlessKeyed: extra.unlessKeyed }];
  }

  /**
   * Refuses a new key when the user has as many as the operator allows, counted under
   * the user's limits lock so that concurrent imports on any process cannot pass it.
   */
  private async requireRoomForKey(tx: Tx, userId: string): Promise<void> {
    const max = this.deps.maxKeysPerUser ?? DEFAULT_USER_LIMITS.keysPerUser;
    if (max <= 0) return;
    await lockUserLimits(tx, userId);
    requireRoomFor('keys_per_user', max, await countKeys(tx, userId));
  }

  /**
   * Runs a user operation in one `withUser` transaction together with its success audit
   * row. A failure rolls the operation back and is then recorded on its own.
   */
  private async inUserTx<T>(
    userId: string,
    ctx: OperationContext,
    operation: AuditOperation,
    details: AuditEntry['details'],
    fn: (tx: Tx) => Promise<T>,
    keyId?: string,
  ): Promise<T> {
    const entry = auditEntry(userId, ctx, operation, details);
    try {
      return await this.deps.authz.withUser(userId, async (tx) => {
        const result = await fn(tx);
        // Null is an operation that gave way and changed nothing (a default key that
        // another call made first): there is nothing to record as done.
        if (result !== null) await writeAudit(tx, entry('success', keyId ?? idOf(result)));
        return result;
      });
    } catch (error) {
      await this.auditFailure(userId, entry, error, keyId);
      throw error;
    } finally {
      // After the commit (or the rollback): the user's next read here sees their change
      // without waiting for its notice to come back over the key-change bus.
      this.deps.keyLists?.invalidate(userId);
    }
  }

  /** Records a failed operation after its rollback; a failure to record it is not the caller's. */
  private async auditFailure(userId: string, entry: EntryFor, error: unknown, keyId?: string) {
    const errorCode = error instanceof BerthError ? error.code : 'internal';
    await this.deps.authz
      .withUser(userId, (tx) => writeAudit(tx, entry('failure', keyId ?? null, { errorCode })))
      .catch(() => {});
  }
}

type EntryFor = (
  outcome: AuditEntry['outcome'],
  sshKeyId: string | null,
  extra?: AuditEntry['details'],
) => AuditEntry;

/** The audit row of one operation, given its outcome. */
function auditEntry(
  userId: string,
  ctx: OperationContext,
  operation: AuditOperation,
  details: AuditEntry['details'],
): EntryFor {
  return (outcome, sshKeyId, extra) => ({
    userId,
    actor: ctx.actor ?? `user:${userId}`,
    operation,
    outcome,
    sshKeyId,
    requestId: ctx.requestId ?? null,
    details: { ...details, ...extra },
  });
}

interface StoreOptions {
  name: string;
  isDefault: boolean;
  privateKeyShown: boolean;
}

function idOf(result: unknown): string | null {
  if (result && typeof result === 'object') {
    if ('key' in result) return idOf(result.key);
    if ('id' in result && typeof result.id === 'string') return result.id;
  }
  return null;
}

function validName(name: string): string {
  const trimmed = (name ?? '').trim();
  if (!trimmed) throw new InvalidInputError('A key needs a name.');
  if (trimmed.length > NAME_MAX) throw new InvalidInputError(`A key name is at most ${NAME_MAX} characters.`);
  if (hasControlCharacters(trimmed))
    throw new InvalidInputError('A key name cannot contain control characters.');
  return trimmed;
}
