/**
 * Droplet creation that never makes a second droplet by retrying. `POST /v2/droplets`
 * answers 202 once DigitalOcean has accepted the request, and it has no idempotency key:
 * when the answer is lost (timeout, dropped connection, a 5xx from a proxy after the
 * droplet was accepted), posting again can leave two billed droplets, only one of which
 * berth knows about. So the generic retry policy never sees this POST. Instead every
 * create carries a unique deploy tag, and:
 *  - before the first POST the tag is looked up, so a deploy re-run after a crash adopts
 *    the droplet its earlier run created;
 *  - after a failure that leaves the outcome unknown, the client waits (backoff), looks the
 *    tag up again, and adopts what it finds; only when nothing carries the tag does it post
 *    again, a bounded number of times;
 *  - a 429 is known not to have created anything (DigitalOcean rejects before acting), so
 *    by itself it needs no lookup, only the wait the server asked for.
 * The wait before the lookup also gives DigitalOcean time to list a droplet it accepted.
 */
import { DigitalOceanRateLimitedError, DigitalOceanUnavailableError } from '../errors.ts';
import type { components } from '../types.gen.ts';
import { exponentialDelay, type RetryOptions } from './backoff.ts';
import { requireDeployTag } from './deploy-tag.ts';
import type { ClientLogger } from './transport.ts';

type Droplet = components['schemas']['droplet'];
type DropletCreateRequest = components['schemas']['droplet_single_create'];

export interface CreateDropletResult {
  droplet: Droplet;
  /** True when an earlier attempt (this call's or a previous run's) had created it. */
  adopted: boolean;
  /** The create action ids from the 202 answer, for polling; empty when adopted. */
  actionIds: number[];
}

export interface CreateDropletDeps {
  /** One POST /v2/droplets, with no retry of its own. */
  post(body: DropletCreateRequest): Promise<unknown>;
  listByTag(tag: string): Promise<Droplet[]>;
  sleep(ms: number): Promise<void>;
  logger: ClientLogger;
  retry: RetryOptions;
  random: () => number;
  /** Most POSTs to send in total. */
  maxPosts: number;
  /** The deploy tag has never been sent in a create, so the first lookup is skipped. */
  freshTag?: boolean;
}

function isRetryable(error: unknown): error is DigitalOceanUnavailableError | DigitalOceanRateLimitedError {
  return (
    (error instanceof DigitalOceanUnavailableError && error.transient) ||
    (error instanceof DigitalOceanRateLimitedError && error.source === 'server')
  );
}

function adopt(found: Droplet[], tag: string, logger: ClientLogger): CreateDropletResult {
  const sorted = [...found].sort((a, b) => a.id - b.id);
  if (sorted.length > 1) {
    logger.warn(
      { tag, ids: sorted.map((d) => d.id) },
      'several droplets carry one deploy tag; adopting the oldest',
    );
  }
  return { droplet: sorted[0]!, adopted: true, actionIds: [] };
}

function created(body: unknown): CreateDropletResult {
  const answer = body as { droplet?: Droplet; links?: { actions?: { id?: number }[] } } | undefined;
  if (!answer?.droplet)
    throw new DigitalOceanUnavailableError(
      { method: 'POST', path: '/v2/droplets' },
      'bad_response',
      'the create answer had no droplet',
    );
  const actionIds = (answer.links?.actions ?? []).flatMap((a) => (typeof a.id === 'number' ? [a.id] : []));
  return { droplet: answer.droplet, adopted: false, actionIds };
}

export async function createDropletOnce(
  request: DropletCreateRequest,
  deps: CreateDropletDeps,
): Promise<CreateDropletResult> {
  const tag = requireDeployTag(request.tags);
  // A tag never sent before cannot be on a droplet yet: the lookup is only for a create
  // that may have been tried already (a resumed deploy).
  if (!deps.freshTag) {
    const existing = await deps.listByTag(tag);
    if (existing.length > 0) return adopt(existing, tag, deps.logger);
  }

  // Whether some POST may have reached DigitalOcean without berth learning the outcome.
  let uncertain = false;
  for (let post = 1; ; post++) {
    try {
      return created(await deps.post(request));
    } catch (error) {
      if (!isRetryable(error)) throw error;
      uncertain ||= !(error instanceof DigitalOceanRateLimitedError);
      const last = post >= deps.maxPosts;
      const delay =
        error instanceof DigitalOceanRateLimitedError
          ? error.retryAfterMs
          : exponentialDelay(post, deps.retry.baseDelayMs, deps.retry.maxDelayMs, deps.random);
      deps.logger.warn(
        { tag, post, delayMs: delay, error: error.message, giveUp: last },
        last
          ? 'droplet create failed; giving up'
          : 'droplet create failed; will look up the deploy tag before retrying',
      );
      if (last && !uncertain) throw error;
      await deps.sleep(delay);
      if (uncertain) {
        // A failed lookup ends the create here: posting without knowing would risk a duplicate.
        const found = await deps.listByTag(tag);
        if (found.length > 0) return adopt(found, tag, deps.logger);
      }
      if (last) throw error;
    }
  }
}
