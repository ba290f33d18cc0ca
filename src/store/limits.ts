/**
 * What the per-user limits (src/domain/limits.ts) count, and the lock that makes a count
 * and the insert after it one step. Two requests of one user, on any processes, each
 * counting before the other's insert committed would both see room for one more; so
 * every transaction that may add an agent, an environment or a key first takes the user's
 * advisory lock, held to its end, and counts only then (each statement of a READ
 * COMMITTED transaction sees what the previous holder committed). A lock on the user's
 * row would need an UPDATE grant on `auth.users` that berth's user role does not have.
 * PGlite runs one transaction at a time, where the lock costs nothing.
 */
import { and, count, eq, ne, sql } from 'drizzle-orm';
import type { Executor } from '../db/engine.ts';
import { agentDroplets, agents, userSshKeys } from '../db/schema.ts';

/** Holds the user's limits lock to the end of the transaction. */
export async function lockUserLimits(tx: Executor, userId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`berth: user limits ${userId}`}, 0))`);
}

export async function countAgents(tx: Executor, userId: string): Promise<number> {
  const [row] = await tx.select({ n: count() }).from(agents).where(eq(agents.userId, userId));
  return row?.n ?? 0;
}

/** The user's environments that are not deleted yet: their droplet may exist, and costs. */
export async function countLiveEnvironments(tx: Executor, userId: string): Promise<number> {
  const [row] = await tx
    .select({ n: count() })
    .from(agentDroplets)
    .where(and(eq(agentDroplets.userId, userId), ne(agentDroplets.status, 'deleted')));
  return row?.n ?? 0;
}

export async function countKeys(tx: Executor, userId: string): Promise<number> {
  const [row] = await tx.select({ n: count() }).from(userSshKeys).where(eq(userSshKeys.userId, userId));
  return row?.n ?? 0;
}
