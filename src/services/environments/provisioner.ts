/**
 * The background half of a deploy and of a teardown. `provision` takes a recorded,
 * pending environment to a created droplet: it gets the owner's deployment keys, checks
 * and records them in the statement that starts the create, creates the droplet with its
 * unique deploy tag (the client looks that tag up before any retry, so there is never a
 * second droplet), and hands it to the follower. `destroy` removes the droplet (a 404
 * counts as gone). Both are idempotent on their record's state, so a reconciler can run
 * them again after a crash.
 */
import type { Authz } from '../../db/authz.ts';
import { buildCloudInit } from '../../domain/environments/cloud-init.ts';
import { BerthError } from '../../domain/errors.ts';
import type { Logger } from '../../observability/logger.ts';
import { type AuditEntry, writeAudit } from '../../store/audit.ts';
import {
  type EnvironmentRow,
  getEnvironment,
  recordDroplet,
  startCreating,
  transition,
} from '../../store/environments.ts';
import type { DeploymentKeyService, DeploymentKeys, KeyPath } from '../deployment-keys.ts';
import type { DropletAccessService } from '../droplet-access.ts';
import { type OperationContext, requestIdOf } from '../ssh-key-service.ts';
import type { DropletFollower } from './follower.ts';
import { type DropletApi, type DropletSettings, ownerOf } from './ports.ts';

export interface ProvisionerDeps {
  authz: Authz;
  droplets: DropletApi;
  keys: Pick<DeploymentKeyService, 'prepareForDeployment' | 'invalidateSSHKeyCache'>;
  follower: Pick<DropletFollower, 'follow'>;
  settings: DropletSettings;
  logger: Logger;
  /** This installation's tag: every droplet it creates carries it; a teardown by tag spares another's. */
  installationTag: string;
  observer?: DeployObserver;
  /** Droplet credentials: made before each create, revoked when a teardown starts. */
  access?: Pick<DropletAccessService, 'issue' | 'revoke'>;
}

/**
 * Told how each deploy ended (metrics): `created` once DigitalOcean accepted the droplet,
 * `failed` when the record went to error_creation; `path` is how the keys were found
 * (`none` when the deploy failed before it had keys), `seconds` from the start of the
 * background work to that moment.
 */
export interface DeployObserver {
  deployFinished(outcome: 'created' | 'failed', path: KeyPath | 'static' | 'none', seconds: number): void;
}

function describe(error: unknown): string {
  if (error instanceof BerthError) return error.message;
  return 'an unexpected error; the operator log has the details';
}

export class Provisioner {
  private readonly deps: ProvisionerDeps;

  constructor(deps: ProvisionerDeps) {
    this.deps = deps;
  }

  async provision(envId: string, ctx: OperationContext = {}): Promise<void> {
    const { authz } = this.deps;
    const env = await authz.asService('provision: read environment', (tx) => getEnvironment(tx, envId));
    if (env?.status !== 'pending_creation') return;
    const keyCtx = { ...ctx, agentId: env.agentId };
    const begun = performance.now();
    const finished = (outcome: 'created' | 'failed', path: KeyPath | 'static' | 'none') =>
      this.deps.observer?.deployFinished(outcome, path, (performance.now() - begun) / 1000);
    let keys: DeploymentKeys;
    let started: Awaited<ReturnType<typeof startCreating>>;
    try {
      keys = await this.deps.keys.prepareForDeployment(env.userId, keyCtx);
      started = await authz.asService('provision: start create', (tx) => startCreating(tx, envId, keys));
      if (started === 'keys_changed') {
        // The user's keys changed after this process cached them: drop the entry, retry once.
        await this.deps.keys.invalidateSSHKeyCache(env.userId);
        keys = await this.deps.keys.prepareForDeployment(env.userId, keyCtx);
        started = await authz.asService('provision: start create', (tx) => startCreating(tx, envId, keys));
      }
      if (started === 'keys_changed') {
        throw new BerthError('conflict', 'The SSH keys changed during the deploy; deploy again.');
      }
    } catch (error) {
      finished('failed', 'none');
      await this.fail(env, 'creation', error, ctx);
      return;
    }
    if (!started) return;
    const outcome = await this.create(started, keys, ctx);
    if (outcome) finished(outcome, keys.path ?? 'static');
  }

  private async create(
    env: EnvironmentRow,
    keys: DeploymentKeys,
    ctx: OperationContext,
  ): Promise<'created' | 'failed' | null> {
    const { authz, droplets, settings } = this.deps;
    let dropletId: number;
    try {
      // A new credential for every create attempt: one a failed attempt's user_data
      // carried is replaced, so it opens nothing.
      const loginCheck = await this.deps.access?.issue({
        id: env.id,
        userId: env.userId,
        usedFallbackKeys: keys.usedFallbackKeys,
      });
      const result = await droplets.createDroplet(
        {
          name: env.name,
          region: env.region,
          size: env.size,
          image: env.image,
          ssh_keys: keys.refs,
          // A record made before installations had ids lacks the installation's tag.
          tags: withTag(env.tags, this.deps.installationTag),
          user_data: buildCloudInit({
            agentUser: 'agent',
            installDocker: settings.installDocker,
            ...(loginCheck ? { loginCheck } : {}),
          }),
        },
        // The first create under this deploy tag needs no lookup before it; a resumed
        // one (a second attempt on the same record) looks the tag up first.
        { priority: 'deploy', freshTag: env.attempts === 1, ...requestIdOf(ctx) },
      );
      dropletId = result.droplet.id;
    } catch (error) {
      await this.fail(env, 'creation', error, ctx);
      return 'failed';
    }
    const recorded = await authz.asService('provision: record droplet', (tx) =>
      recordDroplet(tx, env.id, dropletId),
    );
    if (!recorded) {
      // Torn down (or reconciled) while the create was in flight: this droplet is unwanted.
      await droplets
        .deleteDroplet(dropletId, { priority: 'background', ...requestIdOf(ctx) })
        .catch(() => {});
      return null;
    }
    await this.audit(env, ctx, 'deploy.created', 'success', {
      dropletId,
      digitaloceanKeyIds: keys.refs,
      usedFallbackKeys: keys.usedFallbackKeys,
    });
    if (recorded.status === 'creating')
      this.deps.follower.follow({ envId: env.id, dropletId, pollTag: pollTagOf(env) });
    return 'created';
  }

  async destroy(envId: string, ctx: OperationContext = {}): Promise<void> {
    const { authz, droplets } = this.deps;
    const env = await authz.asService('teardown: start', (tx) =>
      transition(tx, envId, ['pending_deletion', 'error_deletion'], 'deleting'),
    );
    if (!env) return;
    try {
      // Logins stop before the droplet goes: from here on the droplet's credential opens nothing.
      await this.deps.access?.revoke(env.id, env.userId);
      const call = { priority: 'deploy', ...requestIdOf(ctx) } as const;
      if (env.dropletId) await droplets.deleteDroplet(env.dropletId, call);
      // No id recorded (the create may still have happened): the deploy tag finds it. Of
      // what it finds, only this installation's droplets go (a legacy one, with no
      // installation tag, was made for this very record); DigitalOcean's delete by tag
      // would take another installation's too, were a copy of this database running.
      else {
        for (const droplet of await droplets.listDropletsByTag(env.deployTag, call)) {
          if (ownerOf(droplet, this.deps.installationTag) !== 'other')
            await droplets.deleteDroplet(droplet.id, call);
        }
      }
    } catch (error) {
      await this.fail(env, 'deletion', error, ctx);
      return;
    }
    await authz.asService('teardown: done', (tx) =>
      transition(tx, envId, ['deleting'], 'deleted', { deletedAt: new Date() }),
    );
    await this.audit(env, ctx, 'teardown.done', 'success', env.dropletId ? { dropletId: env.dropletId } : {});
  }

  private async fail(
    env: EnvironmentRow,
    phase: 'creation' | 'deletion',
    error: unknown,
    ctx: OperationContext,
  ) {
    const message = describe(error);
    this.deps.logger.error(
      { err: error, envId: env.id, agentId: env.agentId, phase, requestId: ctx.requestId },
      `environment ${phase} failed`,
    );
    const from = phase === 'creation' ? (['pending_creation', 'creating'] as const) : (['deleting'] as const);
    await this.deps.authz
      .asService(`record ${phase} failure`, (tx) =>
        transition(tx, env.id, [...from], phase === 'creation' ? 'error_creation' : 'error_deletion', {
          errorMessage: message,
        }),
      )
      .catch((e) =>
        this.deps.logger.error(
          { err: e, envId: env.id, requestId: ctx.requestId },
          'could not record the failure',
        ),
      );
    await this.audit(env, ctx, phase === 'creation' ? 'deploy.failed' : 'teardown.failed', 'failure', {
      reason: message,
      errorCode: error instanceof BerthError ? error.code : 'internal',
    });
  }

  private audit(
    env: EnvironmentRow,
    ctx: OperationContext,
    operation: AuditEntry['operation'],
    outcome: AuditEntry['outcome'],
    details: AuditEntry['details'],
  ) {
    return this.deps.authz
      .asService(`audit ${operation}`, (tx) =>
        writeAudit(tx, {
          userId: env.userId,
          actor: ctx.actor ?? `user:${env.userId}`,
          operation,
          outcome,
          agentId: env.agentId,
          requestId: ctx.requestId ?? null,
          details,
        }),
      )
      .catch((error) =>
        this.deps.logger.error(
          { err: error, envId: env.id, requestId: ctx.requestId },
          'could not write an audit row',
        ),
      );
  }
}

function withTag(tags: readonly string[], tag: string): string[] {
  return tags.includes(tag) ? [...tags] : [...tags, tag];
}

/** The follower's polling tag, which the environment service put among the create's tags. */
export function pollTagOf(env: Pick<EnvironmentRow, 'tags'>): string {
  return env.tags.find((t) => t.startsWith(POLL_TAG_PREFIX)) ?? 'berth';
}

export const POLL_TAG_PREFIX = 'berth-poll:';
