/**
 * The `onboard-user` job: a new user's default SSH key created and registered with
 * DigitalOcean in the background (see UserOnboardingService.runOnboarding). This module
 * holds its definition, its retry policy, and the words a user reads when it fails.
 */
import { z } from 'zod';
import {
  DigitalOceanRateLimitedError,
  DigitalOceanUnauthorizedError,
  DigitalOceanUnavailableError,
  DigitalOceanUnprocessableError,
} from '../digitalocean/errors.ts';
import { BerthError } from '../domain/errors.ts';
import { defineJob, type JobContext } from './definition.ts';

export const ONBOARD_USER_JOB = 'onboard-user';

export const onboardUserData = z.object({ userId: z.uuid() });
export type OnboardUserData = z.infer<typeof onboardUserData>;

export interface Onboarder {
  runOnboarding(userId: string, job: JobContext): Promise<unknown>;
}

/**
 * Five retries from 15 s, doubling with jitter, span 8 to 15 minutes: long enough to ride
 * out a DigitalOcean incident or a spent rate budget, short enough that a user who looks
 * at their status soon sees a real answer. A run may wait minutes for onboarding rate
 * budget under a sign-up burst, hence the ten-minute expiry; past the share of the hour
 * kept for deploys it fails, and the user's first deploy registers the key instead.
 */
export function onboardUserJob(onboarder: Onboarder, options: { concurrency?: number } = {}) {
  return defineJob<OnboardUserData>({
    name: ONBOARD_USER_JOB,
    schema: onboardUserData,
    retryLimit: 5,
    retryDelaySeconds: 15,
    retryBackoff: true,
    expireInSeconds: 600,
    concurrency: options.concurrency ?? 16,
    handler: ({ userId }, job) => onboarder.runOnboarding(userId, job),
  });
}

/** Why onboarding failed, for the user: what happened and what they can do. Never internals. */
export function describeOnboardingFailure(error: unknown): string {
  const later = 'Your first deploy will try again, or an operator can retry onboarding.';
  if (error instanceof DigitalOceanUnauthorizedError) {
    return `DigitalOcean refused berth's access while registering your SSH key; an operator must fix berth's DigitalOcean token. ${later}`;
  }
  if (error instanceof DigitalOceanRateLimitedError || error instanceof DigitalOceanUnavailableError) {
    return `DigitalOcean was busy or unreachable while registering your SSH key. Nothing is lost: your key is stored. ${later}`;
  }
  if (error instanceof DigitalOceanUnprocessableError) {
    return `DigitalOcean would not accept your SSH key (${error.doMessage}). Add another key, or ask an operator.`;
  }
  if (error instanceof BerthError && error.code.startsWith('vault_')) {
    return `berth could not store your SSH key securely (its key vault is unavailable), so nothing was saved. An operator must fix the vault. ${later}`;
  }
  return `Setting up your SSH key failed unexpectedly. ${later}`;
}
