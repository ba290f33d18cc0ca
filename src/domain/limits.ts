/**
 * Per-user limits: how many agents one user may have, how many live tool environments
 * (droplets the operator pays for) and how many SSH keys, so that one account cannot
 * create dozens of droplets, use up the DigitalOcean account's droplet limit for everyone,
 * or spend the shared hour of DigitalOcean calls registering keys.
 * The operator sets them (docs/configuration.md); the services check them in the
 * transaction that records the new agent or environment, under a per-user lock
 * (src/store/limits.ts). Pure: counts in, a refusal out.
 */
import { LimitReachedError, type UserLimitName } from './errors.ts';

export interface UserLimits {
  /** Agents per user; 0 means no limit. */
  agentsPerUser: number;
  /** Environments per user that are not yet deleted (their droplet may exist); 0 means no limit. */
  liveEnvironmentsPerUser: number;
  /**
   * SSH keys per user; 0 means no limit. Each key is registered with DigitalOcean and put
   * on every droplet of its owner, so an unbounded list would spend the hour's shared
   * DigitalOcean calls (one per key at a deploy) and bloat every droplet's key list.
   */
  keysPerUser: number;
}

export const DEFAULT_USER_LIMITS: UserLimits = {
  agentsPerUser: 20,
  liveEnvironmentsPerUser: 5,
  keysPerUser: 50,
};

const WORDS: Record<UserLimitName, { things: string; remedy: string }> = {
  agents_per_user: { things: 'agents', remedy: 'Delete an agent to create another.' },
  live_environments_per_user: {
    things: 'live tool environments',
    remedy: 'Tear one down to deploy another; it stops counting once it is deleted.',
  },
  keys_per_user: { things: 'SSH keys', remedy: 'Delete a key to add another.' },
};

/** Throws LimitReachedError unless one more fits: `current` of the kind exist, `max` are allowed. */
export function requireRoomFor(limit: UserLimitName, max: number, current: number): void {
  if (max <= 0 || current < max) return;
  const { things, remedy } = WORDS[limit];
  throw new LimitReachedError(
    limit,
    max,
    current,
    `You have ${current} ${things}, and berth allows ${max} per user (the ${limit} limit). ${remedy}`,
  );
}
