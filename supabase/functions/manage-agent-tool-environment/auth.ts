/**
 * Verifies the caller's access token by the same rules berth applies: a fixed algorithm
 * allowlist chosen from what is configured (HS256 with the project's JWT secret, ES256 or
 * RS256 from the project's JWKS), `exp` required, `iss` and `aud: authenticated` checked,
 * at most 60 s of clock skew, `sub` a UUID and `role: authenticated`. Keys come only from
 * configuration: `jku`, `x5u` and `jwk` headers are never followed.
 */
import { createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from 'npm:jose@6';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface VerifierConfig {
  jwtSecret?: string | undefined;
  jwksUrl?: string | undefined;
  issuer: string;
}

export class TokenRejected extends Error {}

export type Verify = (token: string) => Promise<{ userId: string }>;

export function createVerifier(config: VerifierConfig): Verify {
  const secret = config.jwtSecret ? new TextEncoder().encode(config.jwtSecret) : null;
  const jwks = config.jwksUrl
    ? createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5_000 })
    : null;
  const algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? ['ES256', 'RS256'] : [])];
  if (algorithms.length === 0)
    throw new Error('Set SUPABASE_JWT_SECRET or the JWKS URL (SUPABASE_URL) to verify tokens.');
  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256' && secret) return secret;
    if (jwks && header.alg !== 'HS256') return jwks(header, token);
    throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
  };
  return async (token) => {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms,
        issuer: config.issuer,
        audience: 'authenticated',
        clockTolerance: 60,
        requiredClaims: ['exp', 'sub', 'iss', 'aud'],
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new TokenRejected('The access token has expired.');
      if (error instanceof errors.JOSEError) throw new TokenRejected('The access token is not valid.');
      throw error;
    }
    if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) {
      throw new TokenRejected('The access token does not name a user.');
    }
    if (payload.role !== 'authenticated')
      throw new TokenRejected('The access token is not for a signed-in user.');
    return { userId: payload.sub.toLowerCase() };
  };
}

export function bearerToken(header: string | null): string | null {
  const match = header ? /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(header) : null;
  return match?.[1] ?? null;
}
