/**
 * Data access for `berth_installation`, the one row that says which berth installation
 * this database is (see the table's comment in src/db/schema.ts). Migration 0010 makes
 * the row; reading it makes it again only if it was deleted by hand, and in one
 * statement that keeps a row another process made first, so all of them read one id.
 */
import { eq } from 'drizzle-orm';
import type { Executor } from '../db/engine.ts';
import { berthInstallation } from '../db/schema.ts';

export interface Installation {
  id: string;
  /** Whether this read made the row (it was missing: deleted by hand). */
  created: boolean;
}

/** This installation's id; run as berth's service. */
export async function readInstallation(tx: Executor): Promise<Installation> {
  const made = await tx
    .insert(berthInstallation)
    .values({ singleton: true })
    .onConflictDoNothing({ target: berthInstallation.singleton })
    .returning({ id: berthInstallation.id });
  if (made[0]) return { id: made[0].id, created: true };
  const [row] = await tx
    .select({ id: berthInstallation.id })
    .from(berthInstallation)
    .where(eq(berthInstallation.singleton, true));
  if (!row) throw new Error('berth_installation has no row although inserting one conflicted');
  return { id: row.id, created: false };
}
