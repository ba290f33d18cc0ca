/**
 * Agents: what a user deploys tool environments for. A thin service over the store,
 * every query inside `withUser`, so another user's agent is simply not there (the API
 * answers 404 for it exactly as for an id that never existed). An agent whose droplet
 * still exists cannot be deleted: deleting it would drop the record that the droplet is
 * tracked by, so the user tears the environment down first. A user has at most the
 * operator's number of agents (src/domain/limits.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Authz } from '../db/authz.ts';
import type { EnvironmentState } from '../db/schema.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../domain/errors.ts';
import { DEFAULT_USER_LIMITS, requireRoomFor } from '../domain/limits.ts';
import { hasControlCharacters } from '../domain/sshkeys/comment.ts';
import type { Logger } from '../observability/logger.ts';
import type { Agent } from '../store/agents.ts';
import * as store from '../store/agents.ts';
import { countAgents, lockUserLimits } from '../store/limits.ts';
import type { OperationContext } from './ssh-key-service.ts';

export type { Agent };

const NAME_MAX = 100;

/** States in which an environment may still own a droplet on DigitalOcean. */
const HOLDS_A_DROPLET: readonly EnvironmentState[] = [
  'pending_creation',
  'creating',
  'active',
  'pending_deletion',
  'deleting',
  'error_deletion',
  'unresponsive',
];

export interface AgentServiceDeps {
  authz: Authz;
  logger?: Logger;
  /** How many agents one user may have (0: no limit); the documented default when absent. */
  maxAgentsPerUser?: number;
}

export class AgentService {
  private readonly deps: AgentServiceDeps;

  constructor(deps: AgentServiceDeps) {
    this.deps = deps;
  }

  listAgents(userId: string): Promise<Agent[]> {
    return this.deps.authz.withUser(userId, (tx) => store.listAgents(tx, userId));
  }

  async getAgent(userId: string, agentId: string): Promise<Agent> {
    const agent = await this.deps.authz.withUser(userId, (tx) => store.getAgent(tx, userId, agentId));
    if (!agent) throw new NotFoundError('Agent');
    return agent;
  }

  async createAgent(userId: string, input: { name: string }, ctx: OperationContext = {}): Promise<Agent> {
    const name = validName(input.name);
    const max = this.deps.maxAgentsPerUser ?? DEFAULT_USER_LIMITS.agentsPerUser;
    const agent = await this.deps.authz.withUser(userId, async (tx) => {
      // Counted under the user's lock, so concurrent creations cannot all pass the limit.
      await lockUserLimits(tx, userId);
      requireRoomFor('agents_per_user', max, await countAgents(tx, userId));
      return store.insertAgent(tx, { id: randomUUID(), userId, name });
    });
    this.deps.logger?.info({ userId, agentId: agent.id, requestId: ctx.requestId }, 'agent created');
    return agent;
  }

  async deleteAgent(userId: string, agentId: string, ctx: OperationContext = {}): Promise<void> {
    await this.deps.authz.withUser(userId, async (tx) => {
      const agent = await store.getAgent(tx, userId, agentId);
      if (!agent) throw new NotFoundError('Agent');
      const live = await store.environmentsIn(tx, agentId, HOLDS_A_DROPLET);
      if (live.length > 0) {
        throw new ConflictError(
          `This agent still has a tool environment (${live[0]?.status}); tear it down before deleting the agent.`,
        );
      }
      await store.deleteAgent(tx, userId, agentId);
    });
    this.deps.logger?.info({ userId, agentId, requestId: ctx.requestId }, 'agent deleted');
  }
}

function validName(name: string): string {
  const trimmed = (name ?? '').trim();
  if (!trimmed) throw new InvalidInputError('An agent needs a name.');
  if (trimmed.length > NAME_MAX)
    throw new InvalidInputError(`An agent name is at most ${NAME_MAX} characters.`);
  if (hasControlCharacters(trimmed))
    throw new InvalidInputError('An agent name cannot contain control characters.');
  return trimmed;
}
