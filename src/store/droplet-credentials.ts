/**
 * Data access for `droplet_credentials`: issuing a droplet's credential at deploy (its
 * hash only), revoking it when the environment's teardown starts, and resolving a hash
 * to the environment it opens. Service access only (migration 0012).
 *
 * A revocation is announced on the key-change bus's channel, inside the revoking
 * transaction, exactly as a key change is (migration 0006's trigger): every berth
 * process drops what it cached for the owner when the revocation commits.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Executor } from '../db/engine.ts';
import { agentDroplets, dropletCredentials } from '../db/schema.ts';

/** The states in which a droplet's logins are answered; from teardown on, they are not. */
export const ANSWERED_STATES = ['creating', 'active', 'unresponsive'] as const;

export interface ResolvedCredential {
  environmentId: string;
  userId: string;
}

/** Issues (or, for a retried create, replaces) the environment's credential; access becomes live. */
export async function issueCredential(
  tx: Executor,
  environmentId: string,
  userId: string,
  secretHash: string,
): Promise<void> {
  await tx
    .insert(dropletCredentials)
    .values({ environmentId, userId, secretHash })
    .onConflictDoUpdate({
      target: dropletCredentials.environmentId,
      set: { secretHash, createdAt: sql`now()`, revokedAt: null },
    });
  await tx
    .update(agentDroplets)
    .set({ loginAccess: 'live', updatedAt: sql`now()` })
    .where(eq(agentDroplets.id, environmentId));
}

/** Revokes the environment's credential, if it has a live one, and tells every process. */
export async function revokeCredential(tx: Executor, environmentId: string): Promise<boolean> {
  const rows = await tx
    .update(dropletCredentials)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(dropletCredentials.environmentId, environmentId), isNull(dropletCredentials.revokedAt)))
    .returning({ userId: dropletCredentials.userId });
  const [row] = rows;
  if (!row) return false;
  await tx.execute(sql`select pg_notify('berth_key_changes', ${`${row.userId}:credential`})`);
  return true;
}

/** The environment a credential opens, if it is live and its environment answers logins. */
export async function resolveCredential(
  tx: Executor,
  secretHash: string,
): Promise<ResolvedCredential | null> {
  const result = (await tx.execute(sql`
    select c.environment_id as "environmentId", c.user_id as "userId"
    from droplet_credentials c join agent_droplets d on d.id = c.environment_id
    where c.secret_hash = ${secretHash} and c.revoked_at is null
      and d.status in (${sql.join(
        ANSWERED_STATES.map((s) => sql`${s}`),
        sql`, `,
      )})`)) as unknown as { rows: ResolvedCredential[] };
  return result.rows[0] ?? null;
}
