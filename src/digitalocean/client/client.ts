/**
 * berth's client for the parts of the DigitalOcean API it uses: the account's SSH keys,
 * droplets, and droplet actions. Every call goes through the resilient transport (rate
 * budget, timeout, retry, circuit breaker); this module adds what is specific to each
 * resource: which calls are safe to repeat, how "already exists" and "already gone" are
 * read, pagination, and the two idempotent operations deploys rely on, ensureSshKey and
 * createDroplet (see droplet-create.ts for why the latter never posts blindly twice).
 */
import { BerthError, InvalidInputError } from '../../domain/errors.ts';
import { DigitalOceanNotFoundError } from '../errors.ts';
import { DEFAULT_RETRY, type RetryOptions } from './backoff.ts';
import { isDeployTag } from './deploy-tag.ts';
import { type CreateDropletResult, createDropletOnce } from './droplet-create.ts';
import { ensureSshKeyOn, type SshKeyToEnsure } from './ensure-ssh-key.ts';
import { type Clock, type Priority, type RateBudget, systemClock } from './rate-budget.ts';
import type { Action, Droplet, DropletActionRequest, DropletCreateRequest, SshKey } from './resources.ts';
import type { TokenProvider } from './token.ts';
import {
  type BreakerOptions,
  type BreakerState,
  type ClientLogger,
  loggerForRequest,
  type RequestSpec,
  silentLogger,
  Transport,
  type TransportObserver,
} from './transport.ts';

export const DIGITALOCEAN_API_URL = 'https://api.digitalocean.com';

export type { CreateDropletResult } from './droplet-create.ts';
export type { SshKeyToEnsure } from './ensure-ssh-key.ts';
export type { Action, Droplet, DropletActionRequest, DropletCreateRequest, SshKey } from './resources.ts';
export { type TokenProvider, tokenFromEnv } from './token.ts';

export interface DigitalOceanClientOptions {
  /** `DIGITALOCEAN_API_URL` in production, the emulator's address in tests. */
  baseUrl: string;
  /** Read before every request, so a rotated token (from the vault) takes effect at once. */
  token: TokenProvider;
  rateBudget: RateBudget;
  fetch?: typeof fetch;
  logger?: ClientLogger;
  /** Per attempt, response body included. */
  timeoutMs?: number;
  retry?: Partial<RetryOptions>;
  breaker?: Partial<BreakerOptions>;
  clock?: Clock;
  /** Source of jitter; tests pass a fixed one. */
  random?: () => number;
  /** Longest a request waits for the rate budget before failing with rate_limited. */
  maxBudgetWaitMs?: number;
  /** Most POSTs one createDroplet may send (each after a lookup found nothing). */
  createAttempts?: number;
  /** Droplets per list page; DigitalOcean's maximum, 200, unless a test wants to see paging. */
  pageSize?: number;
  /** Told of every request sent or declined (metrics). */
  observer?: TransportObserver;
}

export interface CallOptions {
  /** Deploys (a person waits) are served before background work; the default is deploy. */
  priority?: Priority;
  signal?: AbortSignal;
  /** The berth request or job the call serves: every log line the call writes names it. */
  requestId?: string;
}

/** A bound on pages, so a server bug cannot keep the client paging forever. */
const MAX_PAGES = 50;

function keyPath(idOrFingerprint: number | string): string {
  // Fingerprints contain colons, which are legal in a path segment and what DigitalOcean's
  // own examples use; everything else is escaped.
  return `/v2/account/keys/${encodeURIComponent(String(idOrFingerprint)).replace(/%3A/gi, ':')}`;
}

type Spec = Omit<RequestSpec, 'priority' | 'signal'>;

export class DigitalOceanClient {
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly logger: ClientLogger;
  private readonly retryOptions: RetryOptions;
  private readonly random: () => number;
  private readonly createAttempts: number;
  private readonly pageSize: number;

  constructor(options: DigitalOceanClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.retryOptions = { ...DEFAULT_RETRY, ...options.retry };
    this.random = options.random ?? Math.random;
    this.createAttempts = options.createAttempts ?? 3;
    this.pageSize = options.pageSize ?? 200;
    this.transport = new Transport({
      baseUrl: options.baseUrl,
      token: options.token,
      fetch: options.fetch ?? globalThis.fetch,
      rateBudget: options.rateBudget,
      logger: this.logger,
      timeoutMs: options.timeoutMs ?? 15_000,
      retry: this.retryOptions,
      breaker: { consecutiveFailures: 5, halfOpenAfterMs: 30_000, ...options.breaker },
      clock: this.clock,
      random: this.random,
      maxBudgetWaitMs: options.maxBudgetWaitMs ?? 120_000,
      observer: options.observer,
    });
  }

  /** For metrics: closed (normal), open (failing fast), half-open (one trial call allowed). */
  breakerState(): BreakerState {
    return this.transport.breakerState();
  }

  onBreakerStateChange(listener: (state: BreakerState) => void): { dispose(): void } {
    return this.transport.onBreakerStateChange(listener);
  }

  private request<T>(spec: Spec, options: CallOptions = {}): Promise<T> {
    const full: RequestSpec = { ...spec, priority: options.priority ?? 'deploy' };
    if (options.signal) full.signal = options.signal;
    if (options.requestId !== undefined) full.requestId = options.requestId;
    return this.transport.request<T>(full);
  }

  /** Sends the request and returns the named member of the answer, which must be there. */
  private async field<T>(spec: Spec, field: string, options?: CallOptions): Promise<T> {
    const body = await this.request<Record<string, unknown> | undefined>(spec, options);
    const value = body?.[field];
    if (value === undefined || value === null) {
      throw new BerthError(
        'internal',
        `DigitalOcean's answer to ${spec.method} ${spec.path} had no "${field}"`,
      );
    }
    return value as T;
  }

  private get<T>(path: string, field: string, options?: CallOptions): Promise<T> {
    return this.field<T>({ method: 'GET', path, retry: 'transient' }, field, options);
  }

  // --- SSH keys -------------------------------------------------------------------------

  /** A repeated create answers 422 "already in use", never a duplicate, so it is retried. */
  async createSshKey(key: { name: string; publicKey: string }, options?: CallOptions): Promise<SshKey> {
    return this.field<SshKey>(
      {
        method: 'POST',
        path: '/v2/account/keys',
        body: { name: key.name, public_key: key.publicKey },
        retry: 'transient',
      },
      'ssh_key',
      options,
    );
  }

  async getSshKey(idOrFingerprint: number | string, options?: CallOptions): Promise<SshKey> {
    return this.get<SshKey>(keyPath(idOrFingerprint), 'ssh_key', options);
  }

  async updateSshKeyName(
    idOrFingerprint: number | string,
    name: string,
    options?: CallOptions,
  ): Promise<SshKey> {
    return this.field<SshKey>(
      {
        method: 'PUT',
        path: keyPath(idOrFingerprint),
        body: { name },
        retry: 'transient',
      },
      'ssh_key',
      options,
    );
  }

  /** Resolves true when deleted, false when it was already gone (so deletes are repeatable). */
  async deleteSshKey(idOrFingerprint: number | string, options?: CallOptions): Promise<boolean> {
    return this.deleteTolerant(
      { method: 'DELETE', path: keyPath(idOrFingerprint), retry: 'transient' },
      options,
    );
  }

  /** Makes sure the key is on the account and returns it; see ensure-ssh-key.ts. */
  ensureSshKey(key: SshKeyToEnsure, options?: CallOptions & { createFirst?: boolean }): Promise<SshKey> {
    return ensureSshKeyOn(
      key,
      {
        getByFingerprint: (fingerprint) => this.getSshKey(fingerprint, options),
        create: (k) => this.createSshKey(k, options),
        logger: loggerForRequest(this.logger, options?.requestId),
      },
      { createFirst: options?.createFirst ?? false },
    );
  }

  // --- Droplets -------------------------------------------------------------------------

  /**
   * Creates a droplet, or adopts the one an earlier attempt already created: see
   * droplet-create.ts. The request's tags must hold exactly one deploy tag.
   */
  createDroplet(
    request: DropletCreateRequest,
    options: CallOptions & { freshTag?: boolean } = {},
  ): Promise<CreateDropletResult> {
    return createDropletOnce(request, {
      post: (body) =>
        this.request(
          { method: 'POST', path: '/v2/droplets', body, retry: 'none' },
          options,
        ) as Promise<unknown>,
      listByTag: (tag) => this.listDropletsByTag(tag, options),
      sleep: (ms) => this.clock.sleep(ms, options.signal),
      logger: loggerForRequest(this.logger, options.requestId),
      retry: this.retryOptions,
      random: this.random,
      maxPosts: this.createAttempts,
      freshTag: options.freshTag ?? false,
    });
  }

  async getDroplet(id: number, options?: CallOptions): Promise<Droplet> {
    return this.get<Droplet>(`/v2/droplets/${id}`, 'droplet', options);
  }

  /** Every droplet with the tag, following DigitalOcean's pagination to the end. */
  async listDropletsByTag(tag: string, options?: CallOptions): Promise<Droplet[]> {
    const byId = new Map<number, Droplet>();
    let page = 1;
    for (let fetched = 0; fetched < MAX_PAGES; fetched++) {
      const body = await this.request<{ droplets?: Droplet[]; links?: { pages?: { next?: string } } }>(
        {
          method: 'GET',
          path: '/v2/droplets',
          query: { tag_name: tag, per_page: this.pageSize, page },
          retry: 'transient',
        },
        options,
      );
      // Keyed by id because a droplet created or deleted while paging shifts the pages.
      for (const droplet of body?.droplets ?? []) byId.set(droplet.id, droplet);
      const next = body?.links?.pages?.next;
      // Only the page number is taken from the link: the token is never sent to a host
      // named in a response.
      const nextPage = next ? Number(new URL(next, 'http://x').searchParams.get('page')) : Number.NaN;
      if (!Number.isInteger(nextPage) || nextPage <= page) return [...byId.values()];
      page = nextPage;
    }
    throw new BerthError(
      'internal',
      `DigitalOcean kept paginating droplets tagged ${tag} past ${MAX_PAGES} pages`,
    );
  }

  /** Resolves true when deleted, false when it was already gone. */
  deleteDroplet(id: number, options?: CallOptions): Promise<boolean> {
    return this.deleteTolerant({ method: 'DELETE', path: `/v2/droplets/${id}`, retry: 'transient' }, options);
  }

  /** Deletes every droplet with the tag; false when DigitalOcean knows no such tag. */
  /**
   * Deletes the droplets of one deploy, by its deploy tag. Any other tag is refused before
   * a request is sent: DigitalOcean deletes every droplet carrying the tag it is given, and
   * berth's own tags (`berth`, `user:…`) are on every droplet of a user or of the account.
   */
  deleteDropletsByTag(tag: string, options?: CallOptions): Promise<boolean> {
    if (!isDeployTag(tag)) {
      return Promise.reject(
        new InvalidInputError(`refusing to delete droplets by "${tag}": not a deploy tag`),
      );
    }
    return this.deleteTolerant(
      { method: 'DELETE', path: '/v2/droplets', query: { tag_name: tag }, retry: 'transient' },
      options,
    );
  }

  private async deleteTolerant(spec: Spec, options?: CallOptions) {
    try {
      await this.request(spec, options);
      return true;
    } catch (error) {
      if (error instanceof DigitalOceanNotFoundError) return false;
      throw error;
    }
  }

  // --- Actions --------------------------------------------------------------------------

  /**
   * Starts a droplet action (reboot, power off, ...). Retried only on 429: a reboot that
   * timed out may have happened, and running it twice is not harmless.
   */
  async postDropletAction(
    dropletId: number,
    action: DropletActionRequest,
    options?: CallOptions,
  ): Promise<Action> {
    return this.field<Action>(
      {
        method: 'POST',
        path: `/v2/droplets/${dropletId}/actions`,
        body: action,
        retry: 'rate-limit-only',
      },
      'action',
      options,
    );
  }

  async getDropletAction(dropletId: number, actionId: number, options?: CallOptions): Promise<Action> {
    return this.get<Action>(`/v2/droplets/${dropletId}/actions/${actionId}`, 'action', options);
  }

  /** Any action by id, such as the create action linked from a droplet create. */
  async getAction(actionId: number, options?: CallOptions): Promise<Action> {
    return this.get<Action>(`/v2/actions/${actionId}`, 'action', options);
  }
}
