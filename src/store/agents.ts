/**
 * Data access for `agents`. Like every store module, functions take the executor they run
 * on, a `withUser` transaction for user requests, so the database's row-level security
 * decides what a query can see; the explicit `user_id` conditions repeat that rule so a
 * query run as a service by mistake still cannot cross users.
 */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Executor } from '../db/engine.ts';
import { agentDroplets, agents, type EnvironmentState } from '../db/schema.ts';

export interface Agent {
  id: string;
  userId: string;
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

const columns = {
  id: agents.id,
  userId: agents.userId,
  name: agents.name,
  createdAt: agents.createdAt,
  updatedAt: agents.updatedAt,
};

export async function insertAgent(
  tx: Executor,
  row: { id: string; userId: string; name: string },
): Promise<Agent> {
  const [agent] = await tx.insert(agents).values(row).returning(columns);
  return agent as Agent;
}

export function listAgents(tx: Executor, userId: string): Promise<Agent[]> {
  return tx
    .select(columns)
    .from(agents)
    .where(eq(agents.userId, userId))
    .orderBy(asc(agents.createdAt), asc(agents.id));
}

export async function getAgent(tx: Executor, userId: string, agentId: string): Promise<Agent | null> {
  const [agent] = await tx
    .select(columns)
    .from(agents)
    .where(and(eq(agents.userId, userId), eq(agents.id, agentId)));
  return agent ?? null;
}

export async function deleteAgent(tx: Executor, userId: string, agentId: string): Promise<Agent | null> {
  const [agent] = await tx
    .delete(agents)
    .where(and(eq(agents.userId, userId), eq(agents.id, agentId)))
    .returning(columns);
  return agent ?? null;
}

/** The agent's environments in any of `states` (to refuse deleting an agent with a droplet). */
export async function environmentsIn(tx: Executor, agentId: string, states: readonly EnvironmentState[]) {
  return tx
    .select({ id: agentDroplets.id, status: agentDroplets.status })
    .from(agentDroplets)
    .where(and(eq(agentDroplets.agentId, agentId), inArray(agentDroplets.status, [...states])));
}
