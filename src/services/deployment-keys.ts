/**
 * The SSH keys a deploy puts on a droplet: the seed's getDeploymentSSHKeys and its
 * graceful degradation. Warm, the answer comes from the key cache. Cold (a brand-new user,
 * or a key not yet on DigitalOcean), the missing steps run inline, once: generate the
 * default key, register it. When the user's keys cannot be made ready (DigitalOcean's key
 * calls failing, the vault unavailable), the deploy goes on with the operator's fallback
 * keys, and says so in the record, the audit trail and the log.
 */
import type { Authz } from '../db/authz.ts';
import { UnavailableError } from '../domain/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { writeAudit } from '../store/audit.ts';
import type { CachedKeys, KeyCache } from './key-cache.ts';
import type { RegisteredKey } from './key-registration.ts';
import type { OperationContext } from './ssh-key-service.ts';

export interface DeploymentKeys extends CachedKeys {
  /** What the droplet create names in `ssh_keys`: DigitalOcean key ids or fingerprints. */
  refs: (number | string)[];
  usedFallbackKeys: boolean;
}

export interface DeploymentKeyDeps {
  authz: Authz;
  /**
   * The cold path: make sure the user has keys and that they are on DigitalOcean, and
   * return them. In berth this is onboarding's handleFirstTimeDeployment, so a first
   * deploy that overtakes the onboarding job also finishes the user's onboarding.
   */
  readyKeys: (userId: string, ctx: OperationContext) => Promise<RegisteredKey[]>;
  cache: KeyCache;
  /** BERTH_FALLBACK_SSH_KEY_IDS: DigitalOcean key ids or fingerprints of the operator's keys. */
  fallbackKeys: (number | string)[];
  logger: Logger;
}

export class DeploymentKeyService {
  private readonly inFlight = new Map<string, Promise<CachedKeys>>();

  constructor(private readonly deps: DeploymentKeyDeps) {}

  /** The user's keys, ready on DigitalOcean: cached, or made ready now (once per user). */
  async getDeploymentSSHKeys(userId: string, ctx: OperationContext = {}): Promise<CachedKeys> {
    const cached = await this.deps.cache.get(userId);
    if (cached) return cached;
    const running = this.inFlight.get(userId);
    if (running) return running;
    const flight = this.load(userId, ctx).finally(() => this.inFlight.delete(userId));
    this.inFlight.set(userId, flight);
    return flight;
  }

  invalidateSSHKeyCache(userId: string): Promise<void> {
    return this.deps.cache.delete(userId);
  }

  /** Keys for a deploy, degrading to the fallback keys instead of failing the deploy. */
  async prepareForDeployment(
    userId: string,
    ctx: OperationContext & { agentId?: string } = {},
  ): Promise<DeploymentKeys> {
    try {
      const keys = await this.getDeploymentSSHKeys(userId, ctx);
      return { ...keys, refs: keys.digitaloceanKeyIds, usedFallbackKeys: false };
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      if (this.deps.fallbackKeys.length === 0) {
        throw new UnavailableError(
          `The user's SSH keys could not be made ready (${reason}) and no fallback keys are configured (BERTH_FALLBACK_SSH_KEY_IDS).`,
          { cause },
        );
      }
      this.deps.logger.warn(
        { userId, agentId: ctx.agentId, requestId: ctx.requestId, reason },
        'deploying with the fallback SSH keys: the user’s keys could not be made ready',
      );
      await this.deps.authz
        .asService('audit fallback key use', (tx) =>
          writeAudit(tx, {
            userId,
            actor: ctx.actor ?? `user:${userId}`,
            operation: 'deploy.fallback_keys',
            outcome: 'failure',
            agentId: ctx.agentId ?? null,
            requestId: ctx.requestId ?? null,
            details: { reason: reason.slice(0, 500) },
          }),
        )
        .catch((error) => this.deps.logger.error({ err: error }, 'could not audit fallback key use'));
      return {
        digitaloceanKeyIds: this.deps.fallbackKeys.filter((k): k is number => typeof k === 'number'),
        fingerprints: this.deps.fallbackKeys.map(String),
        refs: this.deps.fallbackKeys,
        usedFallbackKeys: true,
      };
    }
  }

  private async load(userId: string, ctx: OperationContext): Promise<CachedKeys> {
    const registered = await this.deps.readyKeys(userId, ctx);
    const value = {
      digitaloceanKeyIds: registered.map((k) => k.digitaloceanKeyId),
      fingerprints: registered.map((k) => k.fingerprintMd5),
    };
    await this.deps.cache.set(userId, value);
    return value;
  }
}
