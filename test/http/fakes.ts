/**
 * Honest stand-ins for the services the API calls but does not own, implementing the
 * contracts in src/services/contracts.ts. The environment fake keeps its records in the
 * real `agent_droplets` table through the real store, as the signed-in user, and checks
 * ownership through the real agent service, so row-level security and the agent
 * service's "tear down before deleting" rule see exactly what they would in production.
 * It does not talk to DigitalOcean: a deploy stays `pending_creation` until a test moves it.
 */

import { randomUUID } from 'node:crypto';
import type { Authz } from '../../src/db/authz.ts';
import { deployTagFor } from '../../src/digitalocean/client/deploy-tag.ts';
import { NotFoundError } from '../../src/domain/errors.ts';
import type { AgentService } from '../../src/services/agent-service.ts';
import type {
  EnvironmentService,
  OnboardingService,
  OnboardingStatus,
  RegisteredUser,
  ToolEnvironment,
} from '../../src/services/contracts.ts';
import type { OperationContext } from '../../src/services/ssh-key-service.ts';
import {
  type EnvironmentRow,
  getLiveEnvironment,
  insertEnvironment,
  transition,
} from '../../src/store/environments.ts';
import { ensureUserRow } from '../../src/store/users.ts';

const view = (row: EnvironmentRow): ToolEnvironment => ({
  id: row.id,
  agentId: row.agentId,
  status: row.status,
  dropletId: row.dropletId,
  name: row.name,
  ipAddress: row.ipAddress,
  sshPort: row.sshPort,
  sshUser: 'root',
  sshKeyFingerprints: row.sshKeyFingerprints,
  usedFallbackKeys: row.usedFallbackKeys,
  loginAccess: row.loginAccess,
  errorMessage: row.errorMessage,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

export class FakeEnvironmentService implements EnvironmentService {
  readonly calls: { op: string; agentId: string; userId: string; ctx?: OperationContext | undefined }[] = [];

  private readonly authz: Authz;
  private readonly agents: Pick<AgentService, 'getAgent'>;

  constructor(authz: Authz, agents: Pick<AgentService, 'getAgent'>) {
    this.authz = authz;
    this.agents = agents;
  }

  async ensureToolEnvironmentReady(agentId: string, userId: string, ctx?: OperationContext) {
    this.calls.push({ op: 'ensure', agentId, userId, ctx });
    await this.agents.getAgent(userId, agentId);
    return this.authz.withUser(userId, async (tx) => {
      const live = await getLiveEnvironment(tx, agentId);
      if (live) return view(live);
      const id = randomUUID();
      const row = await insertEnvironment(tx, {
        id,
        agentId,
        userId,
        name: `agent-${agentId.slice(0, 8)}`,
        region: 'nyc3',
        size: 's-1vcpu-1gb',
        image: 'ubuntu-24-04-x64',
        deployTag: deployTagFor(id),
        tags: ['berth', `agent:${agentId}`, `user:${userId}`],
      });
      return view(row ?? ((await getLiveEnvironment(tx, agentId)) as EnvironmentRow));
    });
  }

  async getToolEnvironment(agentId: string, userId: string) {
    this.calls.push({ op: 'get', agentId, userId });
    await this.agents.getAgent(userId, agentId);
    const live = await this.authz.withUser(userId, (tx) => getLiveEnvironment(tx, agentId));
    return live ? view(live) : null;
  }

  async teardownToolEnvironment(agentId: string, userId: string, ctx?: OperationContext) {
    this.calls.push({ op: 'teardown', agentId, userId, ctx });
    await this.agents.getAgent(userId, agentId);
    return this.authz.withUser(userId, async (tx) => {
      const live = await getLiveEnvironment(tx, agentId);
      if (!live) throw new NotFoundError('Tool environment');
      const moved = await transition(tx, live.id, [live.status], 'pending_deletion');
      return view(moved ?? live);
    });
  }

  /** What the background teardown would end with. */
  async finishTeardown(agentId: string, userId: string): Promise<void> {
    await this.authz.withUser(userId, async (tx) => {
      const live = await getLiveEnvironment(tx, agentId);
      if (live) await transition(tx, live.id, ['pending_deletion'], 'deleted');
    });
  }
}

/**
 * Registration writes the user row inside `asService`, as the onboarding service does,
 * without enqueuing a job; the status is whatever a test set, `pending` otherwise.
 */
export class FakeOnboardingService implements OnboardingService {
  readonly registered: RegisteredUser[] = [];
  readonly statuses = new Map<string, OnboardingStatus>();

  private readonly authz: Authz;

  constructor(authz: Authz) {
    this.authz = authz;
  }

  async enhancedUserRegistration(user: RegisteredUser) {
    this.registered.push(user);
    const { created } = await this.authz.asService('test: register a user', (tx) => ensureUserRow(tx, user));
    return { created };
  }

  async checkKeyGenerationStatus(userId: string): Promise<OnboardingStatus> {
    return this.statuses.get(userId) ?? { status: 'pending', error: null, keyId: null, updatedAt: null };
  }
}
