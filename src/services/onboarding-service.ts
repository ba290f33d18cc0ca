/**
 * User onboarding: the seed's UserOnboardingService. Registering a user writes the user
 * row, an onboarding record and the `onboard-user` job in one transaction, so no user is
 * left without a job. The job then creates the default SSH key and registers it with
 * DigitalOcean at onboarding priority, so the user's first deploy finds it ready. A
 * deploy that arrives first does the missing steps itself, at deploy priority.
 *
 * Running any of it twice is harmless, and the job and a deploy may race on any
 * process: the default key is created once (the database's partial unique index
 * decides), and a key is registered once (the registrar shares one flight per key in a
 * process and reads DigitalOcean's "already in use" as success across processes).
 */
import { and, eq, ne, sql } from 'drizzle-orm';
import type { Authz } from '../db/authz.ts';
import type { Tx } from '../db/engine.ts';
import { type OnboardingState, userOnboarding, userSshKeys } from '../db/schema.ts';
import { statementBuilder } from '../db/script.ts';
import { InvalidInputError } from '../domain/errors.ts';
import type { JobContext } from '../jobs/definition.ts';
import { describeOnboardingFailure, ONBOARD_USER_JOB } from '../jobs/onboard-user.ts';
import type { JobQueue } from '../jobs/queue.ts';
import type { Logger } from '../observability/logger.ts';
import { listKeys } from '../store/ssh-keys.ts';
import { ensureUserRow } from '../store/users.ts';
import type { OnboardingService, OnboardingStatus, RegisteredUser } from './contracts.ts';
import type { KeyRegistrar, RegisteredKey, Registration } from './key-registration.ts';
import type { OperationContext, SshKeyService } from './ssh-key-service.ts';

export interface OnboardingDeps {
  authz: Authz;
  sshKeys: Pick<SshKeyService, 'ensureUserHasSSHKeys'>;
  registrar: Pick<KeyRegistrar, 'registerAll' | 'register'>;
  queue: Pick<JobQueue, 'sendInTransaction'>;
  logger: Logger;
}

/** What one run of the onboarding job did, kept as the job's output. */
export interface OnboardingRun {
  status: OnboardingState | 'user_deleted';
  keys?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class UserOnboardingService implements OnboardingService {
  private readonly deps: OnboardingDeps;

  constructor(deps: OnboardingDeps) {
    this.deps = deps;
  }

  async enhancedUserRegistration(
    user: RegisteredUser,
    ctx: OperationContext = {},
  ): Promise<{ created: boolean }> {
    if (!UUID.test(user.id)) throw new InvalidInputError('A user id must be a UUID.');
    const result = await this.deps.authz.asService('register a user and enqueue onboarding', async (tx) => {
      // Resolves only once the user's row exists, so the job below always has its user.
      const { created, emailTakenFrom } = await ensureUserRow(tx, user);
      const enqueued = await this.enqueueOnce(tx, user.id);
      return { created, emailTakenFrom, enqueued };
    });
    if (result.emailTakenFrom) {
      this.deps.logger.warn(
        { userId: user.id, previousUserId: result.emailTakenFrom, requestId: ctx.requestId },
        'the identity provider gave this email to a new user: the previous user keeps their keys, without it',
      );
    }
    if (result.enqueued) {
      this.deps.logger.info(
        { userId: user.id, requestId: ctx.requestId, created: result.created },
        'user onboarding enqueued',
      );
    }
    return { created: result.created };
  }

  async checkKeyGenerationStatus(userId: string): Promise<OnboardingStatus> {
    return this.deps.authz.withUser(userId, async (tx) => {
      const [row] = await tx
        .select({
          status: userOnboarding.status,
          error: userOnboarding.error,
          updatedAt: userOnboarding.updatedAt,
        })
        .from(userOnboarding)
        .where(eq(userOnboarding.userId, userId));
      const [key] = await tx
        .select({ id: userSshKeys.id, digitaloceanKeyId: userSshKeys.digitaloceanKeyId })
        .from(userSshKeys)
        .where(and(eq(userSshKeys.userId, userId), eq(userSshKeys.isDefault, true)));
      if (!row) {
        // Registered before berth onboarded users (or by a path that could not enqueue):
        // ready if the default key is already on DigitalOcean, otherwise still to do.
        const status = key?.digitaloceanKeyId ? 'ready' : 'pending';
        return { status, error: null, keyId: key?.id ?? null, updatedAt: null };
      }
      return {
        status: row.status,
        error: row.status === 'failed' ? row.error : null,
        keyId: key?.id ?? null,
        updatedAt: row.updatedAt,
      };
    });
  }

  /**
   * The `onboard-user` job: ensure the default key, register the user's keys on
   * DigitalOcean at onboarding priority, mark the user ready. A failure of the last
   * attempt marks onboarding failed with a reason the user can act on.
   */
  async runOnboarding(
    userId: string,
    job: Pick<JobContext, 'id' | 'isFinalAttempt'>,
  ): Promise<OnboardingRun> {
    const ctx: OperationContext = { actor: 'service:onboarding', requestId: `job:${job.id}` };
    let started: boolean;
    try {
      started = await this.advance(userId, 'generating', true);
    } catch (error) {
      // The user was deleted after registering: there is nobody left to onboard.
      if (isForeignKeyViolation(error)) return { status: 'user_deleted' };
      throw error;
    }
    if (!started) return { status: 'ready' };
    try {
      await this.deps.sshKeys.ensureUserHasSSHKeys(userId, ctx);
      // The keys are read again, in the same transaction that records the step, right
      // before registering: a deploy may have registered them meanwhile, and then there
      // is nothing left to send to DigitalOcean.
      const keys = await this.deps.authz.asService('onboarding: registering', async (tx) => {
        await this.advanceIn(tx, userId, 'registering');
        return listKeys(tx, userId);
      });
      // At onboarding priority: a sign-up burst leaves the hour's reserve to deploys.
      await this.deps.registrar.registerAll(userId, keys, 'onboarding', ctx, this.readyIn(userId));
      return { status: 'ready', keys: keys.length };
    } catch (error) {
      if (job.isFinalAttempt) {
        const reason = describeOnboardingFailure(error);
        await this.markFailed(userId, reason).catch((e: unknown) =>
          this.deps.logger.error({ err: e, userId }, 'could not record the onboarding failure'),
        );
      }
      throw error;
    }
  }

  /**
   * A deploy of a user whose onboarding may not have finished: does what is missing
   * inline, at deploy priority, and returns the user's keys as registered on
   * DigitalOcean. A brand-new user's first deploy makes two round trips to the database
   * around DigitalOcean's call: one stores the new key (or finds the user's keys), one
   * records its registration together with onboarding's `ready`. Once onboarding is done
   * it costs a round trip that finds the keys and one that changes nothing (the deploy
   * path caches the answer in front of it, and does not wait for the second).
   */
  async handleFirstTimeDeployment(userId: string, ctx: OperationContext = {}): Promise<RegisteredKey[]> {
    const registration = await this.prepareFirstDeployment(userId, ctx);
    await registration.recorded;
    return registration.keys;
  }

  /**
   * `handleFirstTimeDeployment` for the deploy itself, which goes on as soon as
   * DigitalOcean holds the keys: the registration's record commits meanwhile, and the
   * deploy hears of its failure through `recorded` (the registrar recovers it later).
   */
  async prepareFirstDeployment(userId: string, ctx: OperationContext = {}): Promise<Registration> {
    const keys = await this.deps.sshKeys.ensureUserHasSSHKeys(userId, ctx);
    return this.deps.registrar.register(userId, keys, 'deploy', ctx, this.readyIn(userId));
  }

  /**
   * Marks the user ready once their keys are on DigitalOcean, inside the registrar's
   * script: with the last key's registration when there is one to record, so the key's
   * id and `ready` commit together. One statement; it changes nothing for a user who is
   * already ready.
   */
  private readyIn(userId: string) {
    return advanceStatement(userId, 'ready');
  }

  /** Writes the onboarding record and the job, unless the user already has a record. */
  private async enqueueOnce(tx: Tx, userId: string): Promise<boolean> {
    const inserted = await tx
      .insert(userOnboarding)
      .values({ userId })
      .onConflictDoNothing()
      .returning({ userId: userOnboarding.userId });
    if (inserted.length === 0) return false;
    await this.deps.queue.sendInTransaction(tx, ONBOARD_USER_JOB, { userId });
    return true;
  }

  /**
   * Moves onboarding on, never back from `ready` (a deploy may have finished it), and
   * says whether it moved: false means the user is already ready.
   */
  private advance(userId: string, status: OnboardingState, newAttempt = false): Promise<boolean> {
    return this.deps.authz.asService('record onboarding progress', (tx) =>
      this.advanceIn(tx, userId, status, newAttempt),
    );
  }

  private async advanceIn(tx: Tx, userId: string, status: OnboardingState, newAttempt = false) {
    const moved = (await tx.execute(advanceStatement(userId, status, newAttempt))) as unknown as {
      rows: unknown[];
    };
    return moved.rows.length > 0;
  }

  private async markFailed(userId: string, reason: string): Promise<void> {
    await this.deps.authz.asService('record an onboarding failure', async (tx) => {
      await tx
        .update(userOnboarding)
        .set({ status: 'failed', error: reason, updatedAt: sql`now()` })
        .where(and(eq(userOnboarding.userId, userId), ne(userOnboarding.status, 'ready')));
    });
  }
}

/**
 * The upsert that moves onboarding on, never back from `ready`; it returns a row when it
 * moved. A statement, so that the registrar's script can carry it.
 */
function advanceStatement(userId: string, status: OnboardingState, newAttempt = false) {
  return statementBuilder
    .insert(userOnboarding)
    .values({ userId, status, attempts: newAttempt ? 1 : 0 })
    .onConflictDoUpdate({
      target: userOnboarding.userId,
      set: {
        status,
        error: null,
        attempts: newAttempt ? sql`${userOnboarding.attempts} + 1` : userOnboarding.attempts,
        updatedAt: sql`now()`,
      },
      setWhere: ne(userOnboarding.status, 'ready'),
    })
    .returning({ userId: userOnboarding.userId })
    .getSQL();
}

/** PostgreSQL's foreign_key_violation, wherever the driver or drizzle put the cause. */
function isForeignKeyViolation(error: unknown): boolean {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23503') return true;
  }
  return false;
}
