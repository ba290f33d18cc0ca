/**
 * The contracts between the HTTP layer and the services that the environment and
 * onboarding work implements. They are declared here, apart from their implementations,
 * so the API can be built and tested against them while the services land, and so the
 * routes depend on what they call, not on how it is built.
 */
import type { EnvironmentState, OnboardingState } from '../db/schema.ts';
import type { OperationContext } from './ssh-key-service.ts';

/** An agent's tool environment as the API shows it: never anything private. */
export interface ToolEnvironment {
  id: string;
  agentId: string;
  status: EnvironmentState;
  dropletId: number | null;
  name: string;
  ipAddress: string | null;
  /** Where to SSH: 22 (DigitalOcean, the emulator's real hosts), or its light droplets' port. */
  sshPort: number | null;
  sshUser: string;
  sshKeyFingerprints: string[];
  usedFallbackKeys: boolean;
  /**
   * `live`: sshd asks berth at each login, so the owner's key changes apply to this
   * environment at once; `fixed`: only the keys it was created with (environments made
   * before berth installed its login check, or while no droplet API was configured).
   */
  loginAccess: 'live' | 'fixed';
  errorMessage: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface EnvironmentService {
  /**
   * Gives the agent a live environment: returns the live one if there is one, else
   * records a new one and deploys it in the background. Answers at once. Throws
   * NotFoundError when the user does not own the agent.
   */
  ensureToolEnvironmentReady(
    agentId: string,
    userId: string,
    ctx?: OperationContext,
  ): Promise<ToolEnvironment>;
  /** The agent's live environment, or null. Throws NotFoundError for another user's agent. */
  getToolEnvironment(agentId: string, userId: string): Promise<ToolEnvironment | null>;
  /** Starts tearing the environment down; answers at once. NotFoundError when there is none. */
  teardownToolEnvironment(agentId: string, userId: string, ctx?: OperationContext): Promise<ToolEnvironment>;
}

export interface OnboardingStatus {
  status: OnboardingState;
  /** Why onboarding failed, in words a user can act on; null unless `failed`. */
  error: string | null;
  /** The default key, once generated. */
  keyId: string | null;
  updatedAt: Date | null;
}

export interface RegisteredUser {
  id: string;
  email?: string | null;
  encryptedPassword?: string | null;
}

export interface OnboardingService {
  /**
   * Registers a user: writes the user row (unless present) and enqueues their
   * onboarding in the same transaction, so no user is left without a job. Idempotent.
   */
  enhancedUserRegistration(user: RegisteredUser, ctx?: OperationContext): Promise<{ created: boolean }>;
  checkKeyGenerationStatus(userId: string): Promise<OnboardingStatus>;
}
