/**
 * Users as berth's database knows them: rows of `auth.users`. On a Supabase project the
 * identity service owns that table and berth only reads it; in the embedded default
 * berth's own sign-in writes it. Either way a user row must exist before that user's
 * keys and agents can, since they reference it.
 *
 * A user is registered by their id alone: a row with the id is the user, whatever email
 * it holds, and registering them again changes nothing. A new id whose email another row
 * already holds is decided explicitly (`claimEmail`), never left to the unique
 * constraint, and everything a user owns stays with their id: an email moving to a new
 * id moves no key, agent or environment with it.
 */
import { eq, sql } from 'drizzle-orm';
import { authUsers } from '../db/auth-schema.ts';
import type { Executor } from '../db/engine.ts';
import { normaliseOptionalEmail } from '../domain/email.ts';
import { EmailTakenError } from '../domain/errors.ts';

export interface NewUser {
  id: string;
  email?: string | null;
  encryptedPassword?: string | null;
}

export interface EnsuredUser {
  /** Whether this call wrote the row (false: it was there already). */
  created: boolean;
  /** The user whose copy of the email the new row took, when one had it. */
  emailTakenFrom: string | null;
}

/**
 * Inserts the user unless a row with their id is present. The email is stored normalised.
 * When the row exists on return, and only then, it resolves: an email this registration
 * may not take is an EmailTakenError, which rolls the caller's transaction back.
 */
export async function ensureUserRow(tx: Executor, user: NewUser): Promise<EnsuredUser> {
  if (await userExists(tx, user.id)) return { created: false, emailTakenFrom: null };
  const email = normaliseOptionalEmail(user.email);
  const emailTakenFrom = email ? await claimEmail(tx, user, email) : null;
  let rows: { id: string }[];
  try {
    rows = await tx
      .insert(authUsers)
      .values({
        id: user.id,
        email,
        encryptedPassword: user.encryptedPassword ?? null,
        createdAt: sql`now()`,
        updatedAt: sql`now()`,
      })
      .onConflictDoNothing({ target: authUsers.id })
      .returning({ id: authUsers.id });
  } catch (error) {
    // The id is the conflict target, so the one unique violation left is the email's: a
    // row written by a path that does not take the email's lock (a Supabase project's
    // own sign-up) took it meanwhile.
    if (isUniqueViolation(error)) throw new EmailTakenError();
    throw error;
  }
  if (rows.length > 0) return { created: true, emailTakenFrom };
  // A concurrent registration of the same id committed first.
  if (await userExists(tx, user.id)) return { created: false, emailTakenFrom: null };
  throw new Error(`the user row ${user.id} was neither written nor found`);
}

/**
 * Makes the email free for a new user, or refuses it. Registrations of one email are
 * serialised by a transaction-scoped advisory lock, so two processes cannot both find it
 * free. Another row's email is taken from it only when neither side signs in with a
 * password: then both rows are an external identity provider's users, and the provider
 * is the source of truth for who holds an email now (a user who left or changed their
 * address, whose address the provider gave to someone new). The old row keeps its id and
 * everything it owns, with no email. An account with a password keeps its email, which
 * is its sign-in name, and a password sign-up never takes an email from anyone.
 */
async function claimEmail(tx: Executor, user: NewUser, email: string): Promise<string | null> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`berth: user email ${email}`}, 0))`);
  const [holder] = await tx
    .select({ id: authUsers.id, encryptedPassword: authUsers.encryptedPassword })
    .from(authUsers)
    .where(eq(authUsers.email, email));
  if (!holder || holder.id === user.id) return null;
  // Supabase stores an empty string for users without a password: only null is none.
  if (user.encryptedPassword || holder.encryptedPassword !== null) throw new EmailTakenError();
  await tx.update(authUsers).set({ email: null, updatedAt: sql`now()` }).where(eq(authUsers.id, holder.id));
  return holder.id;
}

export async function userExists(tx: Executor, id: string): Promise<boolean> {
  const rows = await tx.select({ id: authUsers.id }).from(authUsers).where(eq(authUsers.id, id));
  return rows.length > 0;
}

/** PostgreSQL's unique_violation, wherever the driver or drizzle put the cause. */
function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}
