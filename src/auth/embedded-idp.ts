/**
 * berth as its own identity provider: the subset of Supabase Auth that a platform's front
 * end uses (sign up, sign in with a password, refresh, read the user, sign out), with the
 * same answers, so `@supabase/supabase-js` works against berth unchanged. It is used only
 * when no external provider is configured. Sign-up registers the user through the
 * onboarding service, which writes the user row and enqueues their key generation in one
 * transaction. Account and session rows are outside every user's row-level security, so
 * this module works through `asService`, naming why each time.
 */
import { randomUUID } from 'node:crypto';
import type { Authz } from '../db/authz.ts';
import { normaliseEmail } from '../domain/email.ts';
import { EmailTakenError } from '../domain/errors.ts';
import type { RegisteredUser } from '../services/contracts.ts';
import type { OperationContext } from '../services/ssh-key-service.ts';
import { type Account, findAccountByEmail, findAccountById, setUserMetadata } from './accounts.ts';
import { AuthApiProblem } from './errors.ts';
import type { AuthUser, TokenSigner } from './jwt.ts';
import { LoginThrottle } from './login-throttle.ts';
import { hashPassword, verifyPassword } from './password.ts';
import * as refresh from './refresh-tokens.ts';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

/** What registers a user; the onboarding service implements it. */
export interface UserRegistration {
  enhancedUserRegistration(user: RegisteredUser, ctx?: OperationContext): Promise<{ created: boolean }>;
}

/** A user as Supabase Auth describes one. */
export interface SupabaseUser {
  id: string;
  aud: 'authenticated';
  role: 'authenticated';
  email: string;
  email_confirmed_at: string;
  confirmed_at: string;
  phone: string;
  app_metadata: { provider: 'email'; providers: ['email'] };
  user_metadata: Record<string, unknown>;
  identities: [];
  created_at: string;
  updated_at: string;
  is_anonymous: false;
}

export interface AuthSession {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: SupabaseUser;
}

export interface RequestMeta {
  ip: string;
  requestId?: string | undefined;
}

export interface EmbeddedAuthDeps {
  authz: Authz;
  registration: UserRegistration;
  signer: TokenSigner;
  refreshTokenTtlSeconds: number;
  throttle: LoginThrottle;
}

export type SignOutScope = 'global' | 'local' | 'others';

/** What the `/auth/v1` routes call: the service's public operations. */
export type EmbeddedAuthApi = Pick<
  EmbeddedAuthService,
  'signUp' | 'signInWithPassword' | 'refresh' | 'getUser' | 'signOut'
>;

const invalidCredentials = () =>
  new AuthApiProblem('invalid_input', 'invalid_credentials', 'Invalid login credentials');

export class EmbeddedAuthService {
  /** Checked against when the email is unknown, so that case costs what a wrong password does. */
  private readonly dummyHash: Promise<string>;

  private readonly deps: EmbeddedAuthDeps;

  constructor(deps: EmbeddedAuthDeps) {
    this.deps = deps;
    this.dummyHash = hashPassword(randomUUID());
  }

  async signUp(
    input: { email: string; password: string; data?: Record<string, unknown> | undefined },
    meta: RequestMeta,
  ): Promise<AuthSession> {
    const email = normaliseEmail(input.email);
    if (input.password.length < PASSWORD_MIN_LENGTH || input.password.length > PASSWORD_MAX_LENGTH) {
      throw new AuthApiProblem(
        'invalid_input',
        'weak_password',
        `Password should be between ${PASSWORD_MIN_LENGTH} and ${PASSWORD_MAX_LENGTH} characters.`,
        { extensions: { weak_password: { reasons: ['length'] } } },
      );
    }
    const existing = await this.deps.authz.asService('sign-up: is the email taken', (tx) =>
      findAccountByEmail(tx, email),
    );
    if (existing) throw alreadyRegistered();
    const id = randomUUID();
    const encryptedPassword = await hashPassword(input.password);
    let created: boolean;
    try {
      ({ created } = await this.deps.registration.enhancedUserRegistration(
        { id, email, encryptedPassword },
        { requestId: meta.requestId, actor: 'service:sign-up' },
      ));
    } catch (error) {
      // A concurrent sign-up registered the email first.
      if (error instanceof EmailTakenError) throw alreadyRegistered();
      throw error;
    }
    if (!created) throw alreadyRegistered();
    if (input.data && Object.keys(input.data).length > 0) {
      const data = input.data;
      await this.deps.authz.asService('sign-up: store profile data', (tx) => setUserMetadata(tx, id, data));
    }
    return this.startSession(id);
  }

  async signInWithPassword(
    input: { email: string; password: string },
    meta: RequestMeta,
  ): Promise<AuthSession> {
    // The attempt is counted here, before anything is awaited: attempts that arrive while
    // earlier ones are still hashing must see them.
    const decision = this.deps.throttle.attempt(LoginThrottle.key(input.email, meta.ip));
    if (!decision.allowed) {
      throw new AuthApiProblem(
        'rate_limited',
        'over_request_rate_limit',
        'Too many failed sign-in attempts; wait before trying again.',
        { retryAfterSeconds: decision.retryAfterSeconds },
      );
    }
    const { attempt } = decision;
    let account: Account | null;
    let matches: boolean;
    try {
      account = await this.deps.authz.asService('sign-in: find the account', (tx) =>
        findAccountByEmail(tx, input.email),
      );
      matches = await verifyPassword(input.password, account?.encryptedPassword ?? (await this.dummyHash));
    } catch (error) {
      // No verdict was reached (the database failed): the guess told the client nothing.
      attempt.abandon();
      throw error;
    }
    if (!account || !matches) {
      attempt.failed();
      throw invalidCredentials();
    }
    attempt.succeeded();
    return this.startSession(account.id, account);
  }

  async refresh(refreshToken: string): Promise<AuthSession> {
    const ttl = this.deps.refreshTokenTtlSeconds;
    // The rotation commits before any error is thrown: a detected reuse must revoke the
    // session even though this request fails.
    const result = await this.deps.authz.asService('sign-in: rotate a refresh token', async (tx) => {
      const rotated = await refresh.rotateRefreshToken(tx, refreshToken, ttl);
      if (rotated.outcome !== 'rotated') return { rotated, account: null };
      return { rotated, account: await findAccountById(tx, rotated.userId) };
    });
    const { rotated, account } = result;
    if (rotated.outcome === 'reused') {
      throw new AuthApiProblem(
        'invalid_input',
        'refresh_token_already_used',
        'Invalid Refresh Token: Already Used. The session was signed out because the token was used twice.',
      );
    }
    if (rotated.outcome !== 'rotated' || !account) {
      throw new AuthApiProblem(
        'invalid_input',
        'refresh_token_not_found',
        'Invalid Refresh Token: Refresh Token Not Found',
      );
    }
    return this.sessionFor(account, rotated.sessionId, rotated.token);
  }

  /** The signed-in user, if their session is still live (not signed out). */
  async getUser(user: AuthUser): Promise<SupabaseUser> {
    const { live, account } = await this.deps.authz.asService(
      'sign-in: read the current user',
      async (tx) => ({
        live: user.sessionId ? await refresh.sessionIsLive(tx, user.sessionId) : false,
        account: await findAccountById(tx, user.id),
      }),
    );
    if (!live) {
      throw new AuthApiProblem(
        'forbidden',
        'session_not_found',
        'Session from session_id claim in JWT does not exist',
      );
    }
    if (!account)
      throw new AuthApiProblem('not_found', 'user_not_found', 'User from sub claim in JWT does not exist');
    return toSupabaseUser(account);
  }

  async signOut(user: AuthUser, scope: SignOutScope): Promise<void> {
    await this.deps.authz.asService(`sign-out (${scope})`, async (tx) => {
      if (scope === 'global' || !user.sessionId) return refresh.revokeUserSessions(tx, user.id);
      if (scope === 'local') return refresh.revokeSession(tx, user.sessionId);
      return refresh.revokeUserSessions(tx, user.id, user.sessionId);
    });
  }

  private async startSession(userId: string, known?: Account): Promise<AuthSession> {
    const sessionId = randomUUID();
    const ttl = this.deps.refreshTokenTtlSeconds;
    const { account, token } = await this.deps.authz.asService('sign-in: open a session', async (tx) => ({
      account: known ?? (await findAccountById(tx, userId)),
      token: await refresh.issueRefreshToken(tx, { userId, sessionId }, ttl),
    }));
    if (!account) throw invalidCredentials();
    return this.sessionFor(account, sessionId, token);
  }

  private async sessionFor(account: Account, sessionId: string, refreshToken: string): Promise<AuthSession> {
    const signed = await this.deps.signer.sign({
      userId: account.id,
      email: account.email,
      sessionId,
      userMetadata: account.userMetadata,
    });
    return {
      access_token: signed.token,
      token_type: 'bearer',
      expires_in: signed.expiresIn,
      expires_at: signed.expiresAt,
      refresh_token: refreshToken,
      user: toSupabaseUser(account),
    };
  }
}

const alreadyRegistered = () =>
  new AuthApiProblem('conflict', 'user_already_exists', 'User already registered');

export function toSupabaseUser(account: Account): SupabaseUser {
  const created = account.createdAt.toISOString();
  return {
    id: account.id,
    aud: 'authenticated',
    role: 'authenticated',
    email: account.email ?? '',
    // berth does not send confirmation mail: an account is confirmed when it is created.
    email_confirmed_at: created,
    confirmed_at: created,
    phone: '',
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: account.userMetadata,
    identities: [],
    created_at: created,
    updated_at: account.updatedAt.toISOString(),
    is_anonymous: false,
  };
}
