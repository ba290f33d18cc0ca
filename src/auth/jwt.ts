/**
 * Access tokens. berth accepts Supabase-compatible JWTs (`sub`, `role: authenticated`,
 * `aud: authenticated`, `exp`), signed HS256 with a shared secret (a Supabase project's
 * JWT secret works) or ES256/RS256 with a key from a JWKS URL (a Supabase project's
 * `/auth/v1/.well-known/jwks.json`). The algorithms are a fixed allowlist chosen from what
 * is configured, never from the token; `jku`, `x5u` and `jwk` headers are never followed,
 * because the keys come only from configuration. The embedded sign-in signs its tokens
 * here too, with the claims Supabase Auth puts in its own.
 */
import { createSecretKey } from 'node:crypto';
import { createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify, SignJWT } from 'jose';
import { UnavailableError } from '../domain/errors.ts';
import { AuthenticationError } from './errors.ts';

export const TOKEN_AUDIENCE = 'authenticated';
export const TOKEN_ROLE = 'authenticated';
/** The most clock skew berth tolerates between itself and a token's issuer. */
export const MAX_CLOCK_SKEW_SECONDS = 60;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who a verified token speaks for. */
export interface AuthUser {
  id: string;
  email: string | null;
  /** Supabase's `session_id` claim; berth's embedded sign-in sets it too. */
  sessionId: string | null;
  /** The token's expiry, in seconds since the epoch. */
  expiresAt: number;
}

export interface TokenVerifier {
  verify(token: string): Promise<AuthUser>;
  /** The user of a token already verified and still unexpired, without waiting; else undefined. */
  known?(token: string): AuthUser | undefined;
}

export interface TokenVerifierOptions {
  /** HS256 shared secret. */
  secret?: string | undefined;
  /** JWKS URL for ES256/RS256 tokens. */
  jwksUrl?: string | undefined;
  /** The exact `iss` a token must carry. */
  issuer: string;
  /** At most MAX_CLOCK_SKEW_SECONDS. */
  clockToleranceSeconds?: number;
  /** How long a JWKS fetch may take. */
  jwksTimeoutMs?: number;
}

// The JWKS could not be used (unreachable, slow, malformed): berth's problem, not the
// caller's token's, so it answers 503 rather than 401.
const KEY_SOURCE_FAILURES = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  // A KeyObject, built once: given raw bytes, jose imports the key again on every verify.
  const secretKey = options.secret ? createSecretKey(Buffer.from(options.secret)) : null;
  const jwks = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), {
        timeoutDuration: options.jwksTimeoutMs ?? 5_000,
        cooldownDuration: 30_000,
        cacheMaxAge: 10 * 60_000,
      })
    : null;
  const algorithms = [...(secretKey ? ['HS256'] : []), ...(jwks ? ['ES256', 'RS256'] : [])];
  if (algorithms.length === 0) throw new TypeError('A token verifier needs a secret or a JWKS URL');
  const clockTolerance = Math.min(
    options.clockToleranceSeconds ?? MAX_CLOCK_SKEW_SECONDS,
    MAX_CLOCK_SKEW_SECONDS,
  );
  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256' && secretKey) return secretKey;
    if (jwks && header.alg !== 'HS256') return jwks(header, token);
    throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
  };

  return {
    async verify(token) {
      let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms,
          issuer: options.issuer,
          audience: TOKEN_AUDIENCE,
          clockTolerance,
          requiredClaims: ['exp', 'sub', 'iss', 'aud'],
        }));
      } catch (error) {
        throw translate(error);
      }
      if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) {
        throw new AuthenticationError('invalid', 'The access token does not name a user.');
      }
      if (payload.role !== TOKEN_ROLE) {
        throw new AuthenticationError('invalid', 'The access token is not for a signed-in user.');
      }
      return {
        id: payload.sub.toLowerCase(),
        email: typeof payload.email === 'string' ? payload.email : null,
        sessionId: typeof payload.session_id === 'string' ? payload.session_id : null,
        expiresAt: payload.exp as number,
      };
    },
  };
}

function translate(error: unknown): Error {
  if (error instanceof errors.JWTExpired) {
    return new AuthenticationError('expired', 'The access token has expired.');
  }
  if (error instanceof errors.JOSEError && !KEY_SOURCE_FAILURES.has(error.code)) {
    return new AuthenticationError('invalid', 'The access token is not valid.');
  }
  return new UnavailableError('The identity provider’s signing keys could not be fetched.', { cause: error });
}

export interface SignedToken {
  token: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  expiresIn: number;
}

export interface TokenSigner {
  readonly issuer: string;
  sign(claims: {
    userId: string;
    email: string | null;
    sessionId: string;
    userMetadata: Record<string, unknown>;
  }): Promise<SignedToken>;
}

/** Signs access tokens for the embedded sign-in: HS256, with Supabase Auth's claims. */
export function createTokenSigner(options: {
  secret: string;
  issuer: string;
  ttlSeconds: number;
  now?: () => number;
}): TokenSigner {
  const key = createSecretKey(Buffer.from(options.secret));
  const now = options.now ?? Date.now;
  return {
    issuer: options.issuer,
    async sign(claims) {
      const issuedAt = Math.floor(now() / 1000);
      const expiresAt = issuedAt + options.ttlSeconds;
      const token = await new SignJWT({
        email: claims.email ?? '',
        phone: '',
        app_metadata: { provider: 'email', providers: ['email'] },
        user_metadata: claims.userMetadata,
        role: TOKEN_ROLE,
        aal: 'aal1',
        amr: [{ method: 'password', timestamp: issuedAt }],
        session_id: claims.sessionId,
        is_anonymous: false,
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(options.issuer)
        .setSubject(claims.userId)
        .setAudience(TOKEN_AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(expiresAt)
        .sign(key);
      return { token, expiresAt, expiresIn: options.ttlSeconds };
    },
  };
}
