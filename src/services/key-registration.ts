/**
 * Registers users' public keys with DigitalOcean, idempotently. The MD5 fingerprint is
 * computed locally; the client looks the key up by fingerprint before creating it and
 * treats "already in use" as "exists", so a key is on the account once however many
 * callers race (the onboarding job and a first deploy, on any process). Within one
 * process, concurrent registrations of the same key share one flight of calls.
 */
import type { Authz } from '../db/authz.ts';
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

export class KeyRegistrar {
  private readonly inFlight = new Map<string, Promise<number>>();

  constructor(private readonly deps: { authz: Authz; registry: SshKeyRegistry }) {}

  /** Registers every key not yet on DigitalOcean and returns all of them with their ids. */
  async registerAll(
    userId: string,
    keys: UserSshKey[],
    priority: Priority,
    ctx: OperationContext = {},
  ): Promise<RegisteredKey[]> {
    return Promise.all(
      keys.map(async (key) => ({
        keyId: key.id,
        fingerprintMd5: key.fingerprintMd5,
        digitaloceanKeyId: key.digitaloceanKeyId ?? (await this.register(userId, key, priority, ctx)),
      })),
    );
  }

  register(userId: string, key: UserSshKey, priority: Priority, ctx: OperationContext = {}): Promise<number> {
    const running = this.inFlight.get(key.id);
    if (running) return running;
    const flight = this.registerOnce(userId, key, priority, ctx).finally(() => this.inFlight.delete(key.id));
    this.inFlight.set(key.id, flight);
    return flight;
  }

  private async registerOnce(userId: string, key: UserSshKey, priority: Priority, ctx: OperationContext) {
    const audit = (outcome: 'success' | 'failure', digitaloceanKeyId: number | null, errorCode?: string) =>
      this.deps.authz.withUser(userId, (tx) =>
        writeAudit(tx, {
          userId,
          actor: ctx.actor ?? `user:${userId}`,
          operation: 'key.registered',
          outcome,
          sshKeyId: key.id,
          digitaloceanKeyId,
          requestId: ctx.requestId ?? null,
          details: errorCode ? { errorCode } : { fingerprintSha256: key.fingerprintSha256 },
        }),
      );
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
      await audit('failure', null, error instanceof BerthError ? error.code : 'internal').catch(() => {});
      throw error;
    }
    await this.deps.authz.withUser(userId, (tx) => setDigitalOceanKeyId(tx, key.id, registered.id));
    await audit('success', registered.id);
    return registered.id;
  }
}
