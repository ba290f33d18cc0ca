/**
 * Registers users' public keys with DigitalOcean, idempotently. The MD5 fingerprint is
 * computed locally; the client looks the key up by fingerprint before creating it and
 * treats "already in use" as "exists", so a key is on the account once however many
 * callers race (the onboarding job and a first deploy, on any process). Within one
 * process, concurrent registrations of the same key share one flight of calls.
 *
 * A registration is recorded (the key's DigitalOcean id and its audit row) in one
 * script after DigitalOcean answered: one transaction, one round trip. A caller's own
 * last step (onboarding's `ready`) can commit in that same script. A crash before it commits leaves the key
 * on DigitalOcean with no id recorded, which the next registration finds ("already in
 * use", then the lookup) and records.
 */
import type { SQL } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Authz } from '../db/authz.ts';
import { commitWithoutWaiting } from '../db/script.ts';
import { BerthError } from '../domain/errors.ts';
import { auditStatement } from '../store/audit.ts';
import { setDigitalOceanKeyIdStatement, type UserSshKey } from '../store/ssh-keys.ts';
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

/** A statement that must follow every key's registration, run as berth's service. */
export type AfterRegistration = SQL;

export class KeyRegistrar {
  private readonly inFlight = new Map<string, Promise<number>>();
  /**
   * Keys this process registered lately, by key id. A caller that read its keys just
   * before a registration's record committed still holds the key as unregistered, and
   * would otherwise ask DigitalOcean again once the flight it could have joined is over.
   * A key's id on DigitalOcean never changes, so an entry cannot go stale.
   */
  private readonly recent = new LRUCache<string, number>({ max: 10_000 });

  constructor(private readonly deps: { authz: Authz; registry: SshKeyRegistry }) {}

  /**
   * Registers every key not yet on DigitalOcean and returns all of them with their ids.
   * `after` runs once every key is registered, in the script that records the
   * registration when this call makes exactly one (a first deploy's: one transaction
   * instead of two), else on its own.
   */
  async registerAll(
    userId: string,
    keys: UserSshKey[],
    priority: Priority,
    ctx: OperationContext = {},
    after?: AfterRegistration,
  ): Promise<RegisteredKey[]> {
    const idOf = (key: UserSshKey) => key.digitaloceanKeyId ?? this.recent.get(key.id) ?? null;
    const pending = keys.filter((key) => idOf(key) === null);
    // Only a flight this call starts can carry `after`; a joined one records without it.
    const carried = after && pending.length === 1 && !this.inFlight.has(pending[0]!.id) ? after : undefined;
    const registered = await Promise.all(
      keys.map(async (key) => ({
        keyId: key.id,
        fingerprintMd5: key.fingerprintMd5,
        digitaloceanKeyId: idOf(key) ?? (await this.register(userId, key, priority, ctx, carried)),
      })),
    );
    if (after && !carried) await this.deps.authz.scriptAsService('after registering keys', [after]);
    return registered;
  }

  private register(
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
    const audit = (outcome: 'success' | 'failure', digitaloceanKeyId: number | null, errorCode?: string) =>
      auditStatement({
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
      await this.deps.authz.scriptAsUser(userId, [audit('failure', null, code)]).catch(() => {});
      throw error;
    }
    // Lost in a database crash, this record is what a crash before it leaves (above),
    // which the next registration recovers: so its commit does not wait for the disk.
    const record = [
      commitWithoutWaiting,
      setDigitalOceanKeyIdStatement(key.id, registered.id),
      audit('success', registered.id),
    ];
    if (after) {
      // The caller's last step writes what only berth's service may (onboarding's
      // state), so the whole script runs as the service; the key is named by id.
      await this.deps.authz.scriptAsService('record a key registration and what follows it', [
        ...record,
        after,
      ]);
    } else {
      await this.deps.authz.scriptAsUser(userId, record);
    }
    this.recent.set(key.id, registered.id);
    return registered.id;
  }
}
