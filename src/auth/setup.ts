/**
 * Builds authentication from its settings, for the composition root. Two modes:
 *
 * - `embedded` (the default): berth is the identity provider. It signs HS256 tokens with
 *   BERTH_JWT_SECRET (on the embedded database, a secret it creates in its data directory)
 *   and serves `/auth/v1`. The issuer is BERTH_JWT_ISSUER or `<public URL>/auth/v1`.
 * - `external`: another provider (a Supabase project) signs the tokens. berth verifies
 *   them with BERTH_JWT_SECRET (HS256) and/or BERTH_JWKS_URL (ES256/RS256), requires
 *   BERTH_JWT_ISSUER so `iss` is always checked, serves no `/auth/v1`, and registers each
 *   user with berth on their first request.
 */
import { ConfigError } from '../config/config.ts';
import type { Authz } from '../db/authz.ts';
import { EmbeddedAuthService, type UserRegistration } from './embedded-idp.ts';
import { createTokenSigner, createTokenVerifier, type TokenVerifier } from './jwt.ts';
import { loadJwtSecret, MIN_SECRET_LENGTH } from './jwt-secret.ts';
import { LoginThrottle } from './login-throttle.ts';
import { createUserProvisioner, type UserProvisioner } from './registration.ts';
import { cacheVerifiedTokens } from './verified-tokens.ts';

export interface AuthSettings {
  provider: 'embedded' | 'external';
  jwtSecret: string | undefined;
  jwksUrl: string | undefined;
  jwtIssuer: string | undefined;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

export interface AuthModule {
  mode: 'embedded' | 'external';
  issuer: string;
  verifier: TokenVerifier;
  /** The embedded identity provider; absent with an external one. */
  embedded: EmbeddedAuthService | undefined;
  /** Registers external users on first sight; absent in embedded mode. */
  provisionUser: UserProvisioner | undefined;
  /** Set when this start created the signing-secret file. */
  createdSecretFile: string | null;
}

export function createAuthModule(deps: {
  settings: AuthSettings;
  /** Where berth is reached, for the embedded issuer's default. */
  publicUrl: string;
  dataDir: string;
  embeddedDatabase: boolean;
  authz: Authz;
  registration: UserRegistration;
}): AuthModule {
  const { settings } = deps;
  if (settings.provider === 'external') {
    if (!settings.jwtSecret && !settings.jwksUrl) {
      throw new ConfigError(
        'An external identity provider needs BERTH_JWT_SECRET or BERTH_JWKS_URL to verify its tokens.',
      );
    }
    if (!settings.jwtIssuer) {
      throw new ConfigError(
        'An external identity provider needs BERTH_JWT_ISSUER (for Supabase: https://<project>.supabase.co/auth/v1), ' +
          'so that tokens from any other issuer are refused.',
      );
    }
    if (settings.jwtSecret && settings.jwtSecret.length < MIN_SECRET_LENGTH) {
      throw new ConfigError(`BERTH_JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters long.`);
    }
    if (settings.jwksUrl) assertUrl('BERTH_JWKS_URL', settings.jwksUrl);
    return {
      mode: 'external',
      issuer: settings.jwtIssuer,
      verifier: cacheVerifiedTokens(
        createTokenVerifier({
          secret: settings.jwtSecret,
          jwksUrl: settings.jwksUrl,
          issuer: settings.jwtIssuer,
        }),
      ),
      embedded: undefined,
      provisionUser: createUserProvisioner(deps.registration),
      createdSecretFile: null,
    };
  }
  if (settings.jwksUrl) {
    throw new ConfigError(
      'BERTH_JWKS_URL is for an external identity provider: set BERTH_AUTH_PROVIDER=external.',
    );
  }
  const { secret, createdFile } = loadJwtSecret({
    secret: settings.jwtSecret,
    dataDir: deps.dataDir,
    embeddedDatabase: deps.embeddedDatabase,
  });
  const issuer = settings.jwtIssuer ?? `${deps.publicUrl.replace(/\/+$/, '')}/auth/v1`;
  const signer = createTokenSigner({ secret, issuer, ttlSeconds: settings.accessTokenTtlSeconds });
  return {
    mode: 'embedded',
    issuer,
    verifier: cacheVerifiedTokens(createTokenVerifier({ secret, issuer })),
    embedded: new EmbeddedAuthService({
      authz: deps.authz,
      registration: deps.registration,
      signer,
      refreshTokenTtlSeconds: settings.refreshTokenTtlSeconds,
      throttle: new LoginThrottle(),
    }),
    provisionUser: undefined,
    createdSecretFile: createdFile,
  };
}

function assertUrl(name: string, value: string): void {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw new ConfigError(`${name} is not an http(s) URL: ${value}`);
  }
}
