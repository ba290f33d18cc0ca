/**
 * Users as berth's database knows them: rows of `auth.users`. On a Supabase project the
 * identity service owns that table and berth only reads it; in the embedded default
 * berth's own sign-in writes it. Either way a user row must exist before that user's
 * keys and agents can, since they reference it.
 */
import { eq, sql } from 'drizzle-orm';
import { authUsers } from '../db/auth-schema.ts';
import type { Executor } from '../db/engine.ts';

export interface NewUser {
  id: string;
  email?: string | null;
  encryptedPassword?: string | null;
}

/** Inserts the user unless present; returns whether this call created it. */
export async function ensureUserRow(tx: Executor, user: NewUser): Promise<boolean> {
  const rows = await tx
    .insert(authUsers)
    .values({
      id: user.id,
      email: user.email ?? null,
      encryptedPassword: user.encryptedPassword ?? null,
      createdAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .onConflictDoNothing()
    .returning({ id: authUsers.id });
  return rows.length > 0;
}

export async function userExists(tx: Executor, id: string): Promise<boolean> {
  const rows = await tx.select({ id: authUsers.id }).from(authUsers).where(eq(authUsers.id, id));
  return rows.length > 0;
}
