/**
 * Registers users' public keys with DigitalOcean, idempotently. The MD5 fingerprint is
 * computed locally; the client looks the key up by fingerprint before creating it and
 * treats "already in use" as "exists", so a key is on the account once however many
 * callers race (the onboarding job and a first deploy, on any process). Within one
 * process, concurrent registrations of the same key share one flight of calls.
 *
 * A registration is recorded (the key's DigitalOcean id and its audit row) in one
 * transaction after DigitalOcean answered. A caller's own last step (onboarding's
 * `ready`) can commit in that same transaction. A crash before it commits leaves the key
 * on DigitalOcean with no id recorded, which the next registration finds ("already in
 * use", then the lookup) and records.
 */
import type { Authz } from '../db/authz.ts';
import type { Tx } from '../db/engine.ts';
import { BerthError } from '../domain/errors.ts';
import { writeAudit } from '../store/audit.ts';
import { setDigitalOceanKeyId, type UserSshKey } from '../store/ssh-keys.ts';
import type { OperationContext } from './ssh-key-service.ts';

export type Priority = 'deploy' | 'background';

/** The one DigitalOcean call registration needs (the production client satisfies it). */
export interface SshKeyRegistry {
  ensureSshKey(
    key: { name: string; publicKey: string; fingerprintMd5: string },
    options?: { priority?: Priority; createFirst?: boolean },
  ): Promise<{ id: number; fingerprint: string }>;
}

export interface RegisteredKey {
  keyId: string;
  digitaloceanKeyId: number;
  fingerprintMd5: string;
}

/** Work that must follow every key's registration, run as berth's service. */
export type AfterRegistration = (tx: Tx) => Promise<void>;

export class KeyRegistrar {
  private readonly inFlight = new Map<string, Promise<number>>();

  constructor(private readonly deps: { authz: Authz; registry: SshKeyRegistry }) {}

  /**
   * Registers every key not yet on DigitalOcean and returns all of them with their ids.
   * `after` runs once every key is registered, in the transaction that records the
   * registration when this call makes exactly one (a first deploy's: one transaction
   * instead of two), else in a transaction of its own.
   */
  async registerAll(
    userId: string,
    keys: UserSshKey[],
    priority: Priority,
    ctx: OperationContext = {},
    after?: AfterRegistration,
  ): Promise<RegisteredKey[]> {
    const pending = keys.filter((key) => key.digitaloceanKeyId === null);
    // Only a flight this call starts can carry `after`; a joined one records without it.
    const carried = after && pending.length === 1 && !this.inFlight.has(pending[0]!.id) ? after : undefined;
    const registered = await Promise.all(
      keys.map(async (key) => ({
        keyId: key.id,
        fingerprintMd5: key.fingerprintMd5,
        digitaloceanKeyId:
          key.digitaloceanKeyId ?? (await this.register(userId, key, priority, ctx, carried)),
      })),
    );
    if (after && !carried) await this.deps.authz.asService('after registering keys', after);
    return registered;
  }

  register(
    userId: string,
    key: UserSshKey,
    priority: Priority,
    ctx: OperationContext = {},
    after?: AfterRegistration,
  ): Promise<number> {
    const running = this.inFlight.get(key.id);
    if (running) return running;
    const flight = this.registerOnce(userId, key, priority, ctx, after).finally(() =>
      this.inFlight.delete(key.id),
    );
    this.inFlight.set(key.id, flight);
    return flight;
  }

  private async registerOnce(
    userId: string,
    key: UserSshKey,
    priority: Priority,
    ctx: OperationContext,
    after: AfterRegistration | undefined,
  ) {
    const audit = (
      tx: Tx,
      outcome: 'success' | 'failure',
      digitaloceanKeyId: number | null,
      errorCode?: string,
    ) =>
      writeAudit(tx, {
        userId,
        actor: ctx.actor ?? `user:${userId}`,
        operation: 'key.registered',
        outcome,
        sshKeyId: key.id,
        digitaloceanKeyId,
        requestId: ctx.requestId ?? null,
        details: errorCode ? { errorCode } : { fingerprintSha256: key.fingerprintSha256 },
      });
    let registered: { id: number };
    try {
      registered = await this.deps.registry.ensureSshKey(
        {
          name: `berth-${userId}-${key.id.slice(0, 8)}`,
          publicKey: key.publicKey,
          fingerprintMd5: key.fingerprintMd5,
        },
        // A key berth generated is fresh randomness: it cannot be on the account unless
        // berth put it there, and then the create's "already in use" leads to the lookup.
        // An imported key may be there already (its owner's own), so it is looked up first.
        { priority, createFirst: key.source === 'generated' },
      );
    } catch (error) {
      const code = error instanceof BerthError ? error.code : 'internal';
      await this.deps.authz.withUser(userId, (tx) => audit(tx, 'failure', null, code)).catch(() => {});
      throw error;
    }
    const record = async (tx: Tx) => {
      await setDigitalOceanKeyId(tx, key.id, registered.id);
      await audit(tx, 'success', registered.id);
    };
    if (after) {
      // The caller's last step writes what only berth's service may (onboarding's
      // state), so the whole transaction runs as the service; the key is named by id.
      await this.deps.authz.asService('record a key registration and what follows it', async (tx) => {
        await record(tx);
        await after(tx);
      });
    } else {
      await this.deps.authz.withUser(userId, record);
    }
    return registered.id;
  }
}
