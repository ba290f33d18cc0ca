/**
 * Refresh tokens of the embedded sign-in, in `auth_refresh_tokens`. A token is 32 random
 * bytes; only its SHA-256 is stored (a fast hash is enough for a secret with 256 bits of
 * entropy), so a copy of the database signs no one in. A token is used once: using it
 * revokes it and issues its successor in the same session. Presenting a token that was
 * already used means it was copied, so the whole session is revoked, the thief's
 * successor tokens with it. Every function runs in the caller's `asService` transaction.
 */
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, ne, sql } from 'drizzle-orm';
import type { Executor } from '../db/engine.ts';
import { authRefreshTokens } from '../db/schema.ts';

export const hashRefreshToken = (token: string) => createHash('sha256').update(token).digest('hex');

export async function issueRefreshToken(
  tx: Executor,
  session: { userId: string; sessionId: string },
  ttlSeconds: number,
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await tx.insert(authRefreshTokens).values({
    userId: session.userId,
    sessionId: session.sessionId,
    tokenHash: hashRefreshToken(token),
    expiresAt: sql`now() + make_interval(secs => ${ttlSeconds})`,
  });
  return token;
}

export type RotationResult =
  | { outcome: 'rotated'; userId: string; sessionId: string; token: string }
  | { outcome: 'reused' }
  | { outcome: 'unknown' };

/**
 * Uses a refresh token. The revoking UPDATE is conditional, so of two requests racing
 * with one token exactly one rotates it; the other sees a used token and revokes the
 * session. The caller must commit even on `reused`, so the revocation sticks.
 */
export async function rotateRefreshToken(
  tx: Executor,
  token: string,
  ttlSeconds: number,
): Promise<RotationResult> {
  const tokenHash = hashRefreshToken(token);
  const [used] = await tx
    .update(authRefreshTokens)
    .set({ revoked: true })
    .where(
      and(
        eq(authRefreshTokens.tokenHash, tokenHash),
        eq(authRefreshTokens.revoked, false),
        gt(authRefreshTokens.expiresAt, sql`now()`),
      ),
    )
    .returning({ userId: authRefreshTokens.userId, sessionId: authRefreshTokens.sessionId });
  if (used) {
    const next = await issueRefreshToken(tx, used, ttlSeconds);
    return { outcome: 'rotated', ...used, token: next };
  }
  const [known] = await tx
    .select({ sessionId: authRefreshTokens.sessionId, revoked: authRefreshTokens.revoked })
    .from(authRefreshTokens)
    .where(eq(authRefreshTokens.tokenHash, tokenHash));
  if (known?.revoked) {
    await revokeSession(tx, known.sessionId);
    return { outcome: 'reused' };
  }
  return { outcome: 'unknown' };
}

export async function revokeSession(tx: Executor, sessionId: string): Promise<void> {
  await tx
    .update(authRefreshTokens)
    .set({ revoked: true })
    .where(and(eq(authRefreshTokens.sessionId, sessionId), eq(authRefreshTokens.revoked, false)));
}

/** Revokes every session of the user, or every one but `exceptSessionId`. */
export async function revokeUserSessions(
  tx: Executor,
  userId: string,
  exceptSessionId?: string,
): Promise<void> {
  await tx
    .update(authRefreshTokens)
    .set({ revoked: true })
    .where(
      and(
        eq(authRefreshTokens.userId, userId),
        eq(authRefreshTokens.revoked, false),
        exceptSessionId ? ne(authRefreshTokens.sessionId, exceptSessionId) : undefined,
      ),
    );
}

/** A session is live while it holds an unrevoked, unexpired refresh token. */
export async function sessionIsLive(tx: Executor, sessionId: string): Promise<boolean> {
  const rows = await tx
    .select({ id: authRefreshTokens.id })
    .from(authRefreshTokens)
    .where(
      and(
        eq(authRefreshTokens.sessionId, sessionId),
        eq(authRefreshTokens.revoked, false),
        gt(authRefreshTokens.expiresAt, sql`now()`),
      ),
    )
    .limit(1);
  return rows.length > 0;
}
