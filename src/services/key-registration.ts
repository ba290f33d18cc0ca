/**
 * Registers users' public keys with DigitalOcean, idempotently. The MD5 fingerprint is
 * computed locally; the client looks the key up by fingerprint before creating it and
 * treats "already in use" as "exists", so a key is on the account once however many
 * callers race (the onboarding job and a first deploy, on any process). Within one
 * process, concurrent registrations of the same key share one flight of calls.
 *
 * A registration is recorded (the key's DigitalOcean id and its audit row) in one
 * script after DigitalOcean answered: one transaction, one round trip. A caller's own
 * last step (onboarding's `ready`) can commit in that same script. A crash before it
 * commits leaves the key on DigitalOcean with no id recorded, which the next
 * registration finds ("already in use", then the lookup) and records. That is why a
 * caller may go on with the ids before the record commits (`register`), and why the
 * record does not wait for the disk.
 */
import type { SQL } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Authz } from '../db/authz.ts';
import { commitWithoutWaiting } from '../db/script.ts';
import { BerthError } from '../domain/errors.ts';
import { auditStatement } from '../store/audit.ts';
import { setDigitalOceanKeyIdStatement, type UserSshKey } from '../store/ssh-keys.ts';
import { type OperationContext, requestIdOf } from './ssh-key-service.ts';

/** A deploy's registration is `deploy`; the onboarding job's is `onboarding` (rate-window.ts). */
export type Priority = 'deploy' | 'background' | 'onboarding';

/** The one DigitalOcean call registration needs (the production client satisfies it). */
export interface SshKeyRegistry {
  ensureSshKey(
    key: { name: string; publicKey: string; fingerprintMd5: string },
    options?: { priority?: Priority; createFirst?: boolean; requestId?: string },
  ): Promise<{ id: number; fingerprint: string }>;
}

export interface RegisteredKey {
  keyId: string;
  digitaloceanKeyId: number;
  fingerprintMd5: string;
}

/** A statement that must follow every key's registration, run as berth's service. */
export type AfterRegistration = SQL;

/** A call's keys as DigitalOcean holds them, and when the registrations it made are recorded. */
export interface Registration {
  keys: RegisteredKey[];
  /**
   * Settles once every registration the call made or joined is recorded and `after` has
   * run. A deploy need not wait for it: the ids are DigitalOcean's already, and a record
   * that never commits is recovered by the next registration (see above).
   */
  recorded: Promise<void>;
}

/** One key's registration: its DigitalOcean id, then its record. */
interface Flight {
  id: number;
  recorded: Promise<void>;
}

export class KeyRegistrar {
  private readonly inFlight = new Map<string, Promise<Flight>>();
  /**
   * Keys this process registered lately, by key id. A caller that read its keys just
   * before a registration's record committed still holds the key as unregistered, and
   * would otherwise ask DigitalOcean again once the flight it could have joined is over.
   * A key's id on DigitalOcean never changes, so an entry cannot go stale.
   */
  private readonly recent = new LRUCache<string, number>({ max: 10_000 });

  private readonly deps: { authz: Authz; registry: SshKeyRegistry };

  constructor(deps: { authz: Authz; registry: SshKeyRegistry }) {
    this.deps = deps;
  }

  /** `register`, answered once every registration is recorded. */
  async registerAll(
    userId: string,
    keys: UserSshKey[],
    priority: Priority,
    ctx: OperationContext = {},
    after?: AfterRegistration,
  ): Promise<RegisteredKey[]> {
    const registration = await this.register(userId, keys, priority, ctx, after);
    await registration.recorded;
    return registration.keys;
  }

  /**
   * Registers every key not yet on DigitalOcean and answers, as soon as DigitalOcean
   * holds them all, with all of them and their ids. `after` runs once every key is
   * registered, in the script that records the registration when this call makes exactly
   * one (a first deploy's: one transaction instead of two), else on its own.
   */
  async register(
    userId: string,
    keys: UserSshKey[],
    priority: Priority,
    ctx: OperationContext = {},
    after?: AfterRegistration,
  ): Promise<Registration> {
    const known = (key: UserSshKey) => key.digitaloceanKeyId ?? this.recent.get(key.id) ?? null;
    const pending = keys.filter((key) => known(key) === null);
    // Only a flight this call starts can carry `after`; a joined one records without it.
    const carried = after && pending.length === 1 && !this.inFlight.has(pending[0]!.id) ? after : undefined;
    const records: Promise<void>[] = [];
    const registered = await Promise.all(
      keys.map(async (key) => {
        let digitaloceanKeyId = known(key);
        if (digitaloceanKeyId === null) {
          const flight = await this.flightFor(key.id, () =>
            this.registerOnce(userId, key, priority, ctx, carried),
          );
          records.push(flight.recorded);
          digitaloceanKeyId = flight.id;
        }
        return { keyId: key.id, fingerprintMd5: key.fingerprintMd5, digitaloceanKeyId };
      }),
    );
    const recorded = Promise.all(records).then(async () => {
      if (after && !carried) await this.deps.authz.scriptAsService('after registering keys', [after]);
    });
    // The caller may not wait for it; its failure is the caller's to hear through `recorded`.
    recorded.catch(() => {});
    return { keys: registered, recorded };
  }

  /** The flight registering `keyId`: the one running, else the one `start` begins. */
  private flightFor(keyId: string, start: () => Promise<Flight>): Promise<Flight> {
    const running = this.inFlight.get(keyId);
    if (running) return running;
    const flight = start();
    this.inFlight.set(keyId, flight);
    // Until the record commits a joiner shares the flight; after, the id is in `recent`.
    void flight
      .then((f) => f.recorded)
      .catch(() => {})
      .finally(() => this.inFlight.delete(keyId));
    return flight;
  }

  private async registerOnce(
    userId: string,
    key: UserSshKey,
    priority: Priority,
    ctx: OperationContext,
    after: AfterRegistration | undefined,
  ): Promise<Flight> {
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
        { priority, createFirst: key.source === 'generated', ...requestIdOf(ctx) },
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
    // The caller's last step writes what only berth's service may (onboarding's state),
    // so with it the whole script runs as the service; the key is named by id.
    const recording = after
      ? this.deps.authz.scriptAsService('record a key registration and what follows it', [...record, after])
      : this.deps.authz.scriptAsUser(userId, record);
    // Remembered once recorded: a record that failed leaves the key to be registered
    // (and so recorded) again, here as on any process.
    const recorded = recording.then(() => void this.recent.set(key.id, registered.id));
    return { id: registered.id, recorded };
  }
}
