/**
 * Data access for `agent_droplets`, the tool environment records. The state changes are
 * conditional UPDATEs (`where status = …`), so two processes racing over one record
 * cannot both move it: the loser's update matches no row and it stops.
 */
import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Executor } from '../db/engine.ts';
import { agentDroplets, type EnvironmentState } from '../db/schema.ts';

export type EnvironmentRow = typeof agentDroplets.$inferSelect;

export interface NewEnvironment {
  id: string;
  agentId: string;
  userId: string;
  name: string;
  region: string;
  size: string;
  image: string;
  deployTag: string;
  tags: string[];
}

/** Inserts a pending record unless the agent already has a live one (then null). */
export async function insertEnvironment(tx: Executor, row: NewEnvironment): Promise<EnvironmentRow | null> {
  const inserted = await tx
    .insert(agentDroplets)
    .values({ ...row, status: 'pending_creation' })
    .onConflictDoNothing({ target: agentDroplets.agentId, where: sql`${agentDroplets.status} <> 'deleted'` })
    .returning();
  return inserted[0] ?? null;
}

export async function getLiveEnvironment(tx: Executor, agentId: string): Promise<EnvironmentRow | null> {
  const [row] = await tx
    .select()
    .from(agentDroplets)
    .where(and(eq(agentDroplets.agentId, agentId), ne(agentDroplets.status, 'deleted')));
  return row ?? null;
}

export async function getEnvironment(tx: Executor, id: string): Promise<EnvironmentRow | null> {
  const [row] = await tx.select().from(agentDroplets).where(eq(agentDroplets.id, id));
  return row ?? null;
}

export async function listEnvironmentsIn(
  tx: Executor,
  states: EnvironmentState[],
): Promise<EnvironmentRow[]> {
  return tx.select().from(agentDroplets).where(inArray(agentDroplets.status, states));
}

/**
 * Moves a record from one of `from` to `to` with the given changes; returns the updated
 * row, or null when the record was not in one of `from` (someone else moved it).
 */
export async function transition(
  tx: Executor,
  id: string,
  from: EnvironmentState[],
  to: EnvironmentState,
  changes: Partial<Omit<EnvironmentRow, 'id' | 'status'>> = {},
): Promise<EnvironmentRow | null> {
  const [row] = await tx
    .update(agentDroplets)
    .set({ ...changes, status: to, updatedAt: sql`now()` })
    .where(and(eq(agentDroplets.id, id), inArray(agentDroplets.status, from)))
    .returning();
  return row ?? null;
}

/**
 * Starts the droplet create: records the keys it will carry, but only if every one of
 * them (by its MD5 fingerprint, DigitalOcean's name for it) is still one of the user's
 * keys right now. That check, made in the same statement as the write that every deploy
 * makes anyway, is what guarantees that a key deleted before this deploy started is never
 * used, even if another process's cache has not yet heard of the deletion. It goes by
 * fingerprint, not by DigitalOcean id, because a first deploy does not wait for its new
 * key's id to be recorded (`KeyRegistrar.register`); berth never deletes a key from
 * DigitalOcean, so the id a fingerprint was registered under stays good.
 */
export async function startCreating(
  tx: Executor,
  id: string,
  keys: { fingerprints: string[]; digitaloceanKeyIds: number[]; usedFallbackKeys: boolean },
): Promise<EnvironmentRow | 'keys_changed' | null> {
  const stillOwned = keys.usedFallbackKeys
    ? sql`true`
    : sql`(select count(*) from user_ssh_keys k where k.user_id = ${agentDroplets.userId}
          and ${inArray(sql`k.fingerprint_md5`, keys.fingerprints)}) = ${keys.fingerprints.length}`;
  const [row] = await tx
    .update(agentDroplets)
    .set({
      status: 'creating',
      sshKeyFingerprints: keys.fingerprints,
      usedFallbackKeys: keys.usedFallbackKeys,
      attempts: sql`${agentDroplets.attempts} + 1`,
      errorMessage: null,
      updatedAt: sql`now()`,
    })
    .where(and(eq(agentDroplets.id, id), eq(agentDroplets.status, 'pending_creation'), stillOwned))
    .returning();
  if (row) return row;
  const current = await getEnvironment(tx, id);
  return current?.status === 'pending_creation' ? 'keys_changed' : null;
}

/** Marks the records still being followed as alive, so no reconciler takes them over. */
export async function touch(tx: Executor, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.update(agentDroplets).set({ updatedAt: sql`now()` }).where(inArray(agentDroplets.id, ids));
}

/**
 * Records the droplet a create made. Matches only while the record still wants it (being
 * created, or already adopted by a reconciler with this very droplet); null otherwise.
 */
export async function recordDroplet(
  tx: Executor,
  id: string,
  dropletId: number,
): Promise<EnvironmentRow | null> {
  const [row] = await tx
    .update(agentDroplets)
    .set({ dropletId, updatedAt: sql`now()` })
    .where(
      and(
        eq(agentDroplets.id, id),
        inArray(agentDroplets.status, ['creating', 'active']),
        sql`(${agentDroplets.dropletId} is null or ${agentDroplets.dropletId} = ${dropletId})`,
      ),
    )
    .returning();
  return row ?? null;
}
