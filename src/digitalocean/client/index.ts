/**
 * The DigitalOcean client's public surface, so callers import one module and the files
 * behind it can be rearranged freely.
 */
export { DEFAULT_RETRY, type RateObservation, type RetryOptions } from './backoff.ts';
export {
  type Action,
  type CallOptions,
  type CreateDropletResult,
  DIGITALOCEAN_API_URL,
  DigitalOceanClient,
  type DigitalOceanClientOptions,
  type Droplet,
  type DropletActionRequest,
  type DropletCreateRequest,
  type SshKey,
} from './client.ts';
export { DEPLOY_TAG_PREFIX, deployTagFor, isValidTag } from './deploy-tag.ts';
export type { SshKeyToEnsure } from './ensure-ssh-key.ts';
export {
  type Clock,
  InMemoryRateBudget,
  type InMemoryRateBudgetOptions,
  type Priority,
  type RateBudget,
  type RateLimits,
  systemClock,
} from './rate-budget.ts';
export { computeWait, DIGITALOCEAN_LIMITS, windowsFor } from './rate-window.ts';
export { type TokenProvider, tokenFromEnv } from './token.ts';
export type {
  BreakerOptions,
  BreakerState,
  CallObservation,
  ClientLogger,
  TransportObserver,
} from './transport.ts';
