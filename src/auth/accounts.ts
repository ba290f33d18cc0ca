/**
 * The embedded sign-in's reads and writes of `auth.users`: find an account by email or
 * id, and record the profile data given at sign-up. Creating the row is not here: sign-up
 * goes through the onboarding service's registration, so that the user row and their
 * onboarding job are written together. Emails are stored normalised (`normaliseEmail`),
 * which makes the table's unique constraint case-insensitive in effect.
 */
import { eq, sql } from 'drizzle-orm';
import { authUsers } from '../db/auth-schema.ts';
import type { Executor } from '../db/engine.ts';
import { normaliseEmail } from '../domain/email.ts';

export interface Account {
  id: string;
  email: string | null;
  encryptedPassword: string | null;
  userMetadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

const columns = {
  id: authUsers.id,
  email: authUsers.email,
  encryptedPassword: authUsers.encryptedPassword,
  userMetadata: authUsers.rawUserMetaData,
  createdAt: authUsers.createdAt,
  updatedAt: authUsers.updatedAt,
};

interface Row {
  id: string;
  email: string | null;
  encryptedPassword: string | null;
  userMetadata: unknown;
  createdAt: Date | null;
  updatedAt: Date | null;
}

function toAccount(row: Row | undefined): Account | null {
  if (!row) return null;
  const metadata = row.userMetadata;
  return {
    id: row.id,
    email: row.email ?? null,
    encryptedPassword: row.encryptedPassword ?? null,
    userMetadata: metadata && typeof metadata === 'object' ? (metadata as Record<string, unknown>) : {},
    createdAt: row.createdAt ?? new Date(0),
    updatedAt: row.updatedAt ?? row.createdAt ?? new Date(0),
  };
}

export async function findAccountByEmail(tx: Executor, email: string): Promise<Account | null> {
  const [row] = await tx
    .select(columns)
    .from(authUsers)
    .where(eq(authUsers.email, normaliseEmail(email)));
  return toAccount(row);
}

export async function findAccountById(tx: Executor, id: string): Promise<Account | null> {
  const [row] = await tx.select(columns).from(authUsers).where(eq(authUsers.id, id));
  return toAccount(row);
}

export async function setUserMetadata(
  tx: Executor,
  id: string,
  metadata: Record<string, unknown>,
): Promise<void> {
  await tx
    .update(authUsers)
    .set({ rawUserMetaData: metadata, updatedAt: sql`now()` })
    .where(eq(authUsers.id, id));
}
