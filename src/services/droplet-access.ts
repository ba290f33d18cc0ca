/**
 * Droplet access: the service behind sshd's login check on berth's droplets. At deploy
 * it makes the droplet's credential (a random secret, stored as a hash) and the login
 * check settings the user_data carries; at teardown it revokes the credential; and at
 * each login it answers the droplet's question "which keys may log in as this user?"
 * with the owner's keys as they are now.
 *
 * A credential opens exactly one thing: its environment's login keys. Anything on a
 * droplet can read the credential (user_data is served by the metadata service), so it
 * is worth no more than that. Unknown, revoked and torn-down credentials are refused
 * alike, without saying which, and refusals are counted per source address: past the
 * limit, a source is turned away before its guesses reach the database.
 *
 * Answers are served from two caches (credential to environment here, the owner's key
 * list in the shared KeyListCache), both kept fresh by the key-change bus. Because a
 * notice from another process arrives a moment after its commit, every lookup first
 * waits on the bus's fence, which resolves only once every change committed before the
 * lookup began has been heard: a key deleted through any berth process is never
 * answered after its DELETE has returned, and a revoked credential never opens again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Authz } from '../db/authz.ts';
import type { LoginCheckOptions } from '../domain/environments/login-check.ts';
import { TokenBuckets } from '../http/rate-limit.ts';
import type { Logger } from '../observability/logger.ts';
import { writeAudit } from '../store/audit.ts';
import {
  issueCredential,
  type ResolvedCredential,
  resolveCredential,
  revokeCredential,
} from '../store/droplet-credentials.ts';
import { listKeys } from '../store/ssh-keys.ts';
import type { KeyListCache } from './key-list-cache.ts';

export type LookupOutcome = 'answered' | 'other_login' | 'refused' | 'limited';

export interface DropletAccessObserver {
  lookup(outcome: LookupOutcome, seconds: number): void;
}

export interface DropletAccessDeps {
  authz: Authz;
  keyLists: KeyListCache;
  /** The key-change bus's fence (key-invalidation.ts). */
  fence: () => Promise<boolean>;
  logger: Logger;
  graceSeconds: number;
  /** The agent's login; root and it are the logins answered. */
  agentUser: string;
  /** Refusals allowed per source address per minute before it is turned away. */
  refusalsPerMinute?: number;
  observer?: DropletAccessObserver;
}

export type LookupAnswer =
  | { status: 200; body: string }
  | { status: 401 }
  | { status: 429; retryAfterSeconds: number };

const SECRET_PREFIX = 'bdc_';
const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');
/** An authorized_keys line as berth stores keys: a type and a key, maybe a comment, one line. */
const KEY_LINE = /^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^\r\n]*)?$/;

export class DropletAccessService {
  private readonly credentials = new LRUCache<string, ResolvedCredential>({
    max: 100_000,
    ttl: 5 * 60_000,
    ttlResolution: 0,
    dispose: (value, hash) => {
      const hashes = this.byUser.get(value.userId);
      hashes?.delete(hash);
      if (hashes?.size === 0) this.byUser.delete(value.userId);
    },
  });
  private readonly byUser = new Map<string, Set<string>>();
  private changes = 0;
  private suspended = false;
  private readonly refusals: TokenBuckets;
  private readonly turnedAway = new LRUCache<string, true>({ max: 100_000, ttl: 60_000 });
  private readonly logins: ReadonlySet<string>;
  private url: string | null = null;

  private readonly deps: DropletAccessDeps;

  constructor(deps: DropletAccessDeps) {
    this.deps = deps;
    const perMinute = deps.refusalsPerMinute ?? 30;
    this.refusals = new TokenBuckets(perMinute, perMinute);
    this.logins = new Set(['root', deps.agentUser]);
  }

  /**
   * The droplet API listens, at `url` as droplets reach it: deploys from now on get live
   * access. Until then they get fixed access (no droplet API is configured).
   */
  serveAt(url: string): void {
    this.url = url;
  }

  /**
   * Makes the environment's credential and returns the login check its user_data
   * installs, or null when droplets cannot reach berth (fixed access).
   */
  async issue(env: {
    id: string;
    userId: string;
    usedFallbackKeys: boolean;
  }): Promise<Omit<LoginCheckOptions, 'logins'> | null> {
    const url = this.url;
    if (url === null) return null;
    const credential = `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
    await this.deps.authz.asService('issue a droplet credential', (tx) =>
      issueCredential(tx, env.id, env.userId, hashOf(credential)),
    );
    return {
      url,
      credential,
      graceSeconds: this.deps.graceSeconds,
      usedFallbackKeys: env.usedFallbackKeys,
    };
  }

  /** Revokes the environment's credential (teardown); every process stops answering it. */
  async revoke(environmentId: string, userId: string): Promise<void> {
    await this.deps.authz.asService('revoke a droplet credential', (tx) =>
      revokeCredential(tx, environmentId),
    );
    this.invalidate(userId);
  }

  /** The answer to a droplet's "which keys may log in as `login`?". */
  async authorizedKeys(
    authorization: string | undefined,
    login: string,
    source: string,
  ): Promise<LookupAnswer> {
    const begun = performance.now();
    const done = <T extends LookupAnswer>(outcome: LookupOutcome, answer: T): T => {
      this.deps.observer?.lookup(outcome, (performance.now() - begun) / 1000);
      return answer;
    };
    if (this.turnedAway.has(source)) return done('limited', { status: 429, retryAfterSeconds: 60 });
    const secret = /^Bearer (bdc_[A-Za-z0-9_-]{43})$/.exec(authorization ?? '')?.[1];
    const fresh = await this.deps.fence();
    const credential = secret ? await this.resolve(hashOf(secret), fresh) : null;
    if (!credential) {
      await this.refused(source, secret ? 'unknown or revoked credential' : 'no credential');
      return done('refused', { status: 401 });
    }
    if (!this.logins.has(login)) return done('other_login', { status: 200, body: '' });
    const load = (userId: string) =>
      this.deps.authz.asService('droplet key lookup', (tx) => listKeys(tx, userId));
    const keys = fresh
      ? await this.deps.keyLists.get(credential.userId, load)
      : await load(credential.userId);
    const lines = keys.map((k) => k.publicKey.trim()).filter((line) => KEY_LINE.test(line));
    return done('answered', { status: 200, body: lines.length ? `${lines.join('\n')}\n` : '' });
  }

  /** The key-change bus heard of a change to the user's keys or credentials. */
  invalidate(userId: string): void {
    this.changes++;
    for (const hash of [...(this.byUser.get(userId) ?? [])]) this.credentials.delete(hash);
  }

  /** The bus's `onListening`: nothing is cached while changes cannot be heard. */
  listening(heard: boolean): void {
    this.changes++;
    this.suspended = !heard;
    if (!heard) {
      this.credentials.clear();
      this.byUser.clear();
    }
  }

  private async resolve(hash: string, fresh: boolean): Promise<ResolvedCredential | null> {
    const cached = fresh ? this.credentials.get(hash) : undefined;
    if (cached) return cached;
    const before = this.changes;
    const found = await this.deps.authz.asService('droplet key lookup', (tx) => resolveCredential(tx, hash));
    if (found && fresh && !this.suspended && this.changes === before) {
      this.credentials.set(hash, found);
      const hashes = this.byUser.get(found.userId) ?? new Set<string>();
      hashes.add(hash);
      this.byUser.set(found.userId, hashes);
    }
    return found;
  }

  /** Audits a refusal and counts it against its source; past the limit the source is turned away. */
  private async refused(source: string, reason: string): Promise<void> {
    if (!this.refusals.take(source).ok) this.turnedAway.set(source, true);
    await this.deps.authz
      .asService('audit a droplet credential refusal', (tx) =>
        writeAudit(tx, {
          userId: null,
          actor: 'droplet',
          operation: 'droplet.credential_refused',
          outcome: 'failure',
          details: { reason, sourceAddress: source },
        }),
      )
      .catch((error) =>
        this.deps.logger.warn({ err: error }, 'could not audit a droplet credential refusal'),
      );
  }
}
