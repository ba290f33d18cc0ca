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
import type { Registration } from './key-registration.ts';
import type { OperationContext } from './ssh-key-service.ts';

/** How a deploy got its keys: from the cache, made ready now, or the operator's fallback. */
export type KeyPath = 'warm' | 'cold' | 'fallback';

export interface DeploymentKeys extends CachedKeys {
  /** What the droplet create names in `ssh_keys`: DigitalOcean key ids or fingerprints. */
  refs: (number | string)[];
  usedFallbackKeys: boolean;
  /** Absent when the keys came from elsewhere (the benchmark's static keys). */
  path?: KeyPath;
}

/** Told how long each deploy's key step took and by which path (metrics). */
export interface DeployKeyObserver {
  keysReady(path: KeyPath, seconds: number): void;
}

export interface DeploymentKeyDeps {
  authz: Authz;
  /**
   * The cold path: make sure the user has keys and that they are on DigitalOcean, and
   * return them. In berth this is onboarding's prepareFirstDeployment, so a first
   * deploy that overtakes the onboarding job also finishes the user's onboarding. It
   * answers once DigitalOcean holds the keys; their record may still be committing.
   */
  readyKeys: (userId: string, ctx: OperationContext) => Promise<Registration>;
  cache: KeyCache;
  /** BERTH_FALLBACK_SSH_KEY_IDS: DigitalOcean key ids or fingerprints of the operator's keys. */
  fallbackKeys: (number | string)[];
  logger: Logger;
  observer?: DeployKeyObserver;
}

export class DeploymentKeyService {
  private readonly inFlight = new Map<string, Promise<CachedKeys>>();

  private readonly deps: DeploymentKeyDeps;

  constructor(deps: DeploymentKeyDeps) {
    this.deps = deps;
  }

  /** The user's keys, ready on DigitalOcean: cached, or made ready now (once per user). */
  async getDeploymentSSHKeys(userId: string, ctx: OperationContext = {}): Promise<CachedKeys> {
    return (await this.lookup(userId, ctx)).keys;
  }

  private async lookup(userId: string, ctx: OperationContext): Promise<{ keys: CachedKeys; warm: boolean }> {
    const cached = await this.deps.cache.get(userId);
    if (cached) return { keys: cached, warm: true };
    const running = this.inFlight.get(userId);
    if (running) return { keys: await running, warm: false };
    const flight = this.load(userId, ctx).finally(() => this.inFlight.delete(userId));
    this.inFlight.set(userId, flight);
    return { keys: await flight, warm: false };
  }

  invalidateSSHKeyCache(userId: string): Promise<void> {
    return this.deps.cache.delete(userId);
  }

  /** Keys for a deploy, degrading to the fallback keys instead of failing the deploy. */
  async prepareForDeployment(
    userId: string,
    ctx: OperationContext & { agentId?: string } = {},
  ): Promise<DeploymentKeys> {
    const started = performance.now();
    const took = () => (performance.now() - started) / 1000;
    try {
      const { keys, warm } = await this.lookup(userId, ctx);
      const path = warm ? 'warm' : 'cold';
      this.deps.observer?.keysReady(path, took());
      return { ...keys, refs: keys.digitaloceanKeyIds, usedFallbackKeys: false, path };
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
        .catch((error) =>
          this.deps.logger.error(
            { err: error, requestId: ctx.requestId },
            'could not audit fallback key use',
          ),
        );
      this.deps.observer?.keysReady('fallback', took());
      return {
        digitaloceanKeyIds: this.deps.fallbackKeys.filter((k): k is number => typeof k === 'number'),
        fingerprints: this.deps.fallbackKeys.map(String),
        refs: this.deps.fallbackKeys,
        usedFallbackKeys: true,
        path: 'fallback',
      };
    }
  }

  private async load(userId: string, ctx: OperationContext): Promise<CachedKeys> {
    const { keys: registered, recorded } = await this.deps.readyKeys(userId, ctx);
    // The deploy does not wait for the record: the ids are DigitalOcean's already, and a
    // record that fails is made again by the key's next registration.
    recorded.catch((error) =>
      this.deps.logger.warn(
        { err: error, userId, requestId: ctx.requestId },
        'a key registration was not recorded; its next registration will record it',
      ),
    );
    const value = {
      digitaloceanKeyIds: registered.map((k) => k.digitaloceanKeyId),
      fingerprints: registered.map((k) => k.fingerprintMd5),
    };
    await this.deps.cache.set(userId, value);
    return value;
  }
}
