import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../config/config.ts';
import type { Authz } from '../db/authz.ts';
import { loadJwtSecret } from './jwt-secret.ts';
import { type AuthSettings, createAuthModule } from './setup.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-auth-setup-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const settings = (overrides: Partial<AuthSettings> = {}): AuthSettings => ({
  provider: 'embedded',
  jwtSecret: undefined,
  jwksUrl: undefined,
  jwtIssuer: undefined,
  accessTokenTtlSeconds: 3600,
  refreshTokenTtlSeconds: 86_400,
  ...overrides,
});
const module = (s: AuthSettings, embeddedDatabase = true, dataDir = tempDir()) =>
  createAuthModule({
    settings: s,
    publicUrl: 'https://berth.example/',
    dataDir,
    embeddedDatabase,
    authz: {} as Authz,
    registration: { enhancedUserRegistration: async () => ({ created: true }) },
  });

describe('the token signing secret', () => {
  it('is created once in the data directory, readable by its owner only, and reused', () => {
    const dir = tempDir();
    const first = loadJwtSecret({ secret: undefined, dataDir: dir, embeddedDatabase: true });
    expect(first.createdFile).toBe(join(dir, 'jwt.secret'));
    expect(statSync(join(dir, 'jwt.secret')).mode & 0o777).toBe(0o600);
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    const second = loadJwtSecret({ secret: undefined, dataDir: dir, embeddedDatabase: true });
    expect(second).toEqual({ secret: first.secret, createdFile: null });
    expect(readFileSync(join(dir, 'jwt.secret'), 'utf8').trim()).toBe(first.secret);
  });

  it('refuses a secret file others can read, a short secret, and no secret on a PostgreSQL server', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'jwt.secret'), 'x'.repeat(40));
    chmodSync(join(dir, 'jwt.secret'), 0o644);
    expect(() => loadJwtSecret({ secret: undefined, dataDir: dir, embeddedDatabase: true })).toThrow(
      /chmod 600/,
    );
    expect(() => loadJwtSecret({ secret: 'short', dataDir: dir, embeddedDatabase: true })).toThrow(
      ConfigError,
    );
    expect(() => loadJwtSecret({ secret: undefined, dataDir: tempDir(), embeddedDatabase: false })).toThrow(
      /BERTH_JWT_SECRET is required/,
    );
  });
});

describe('choosing how users sign in', () => {
  it('is its own provider by default, issuing as the public URL’s /auth/v1', () => {
    const auth = module(settings());
    expect(auth.mode).toBe('embedded');
    expect(auth.issuer).toBe('https://berth.example/auth/v1');
    expect(auth.embedded).toBeDefined();
    expect(auth.provisionUser).toBeUndefined();
  });

  it('trusts an external provider only with a way to verify its tokens and its issuer', () => {
    expect(() =>
      module(settings({ provider: 'external', jwtIssuer: 'https://p.supabase.co/auth/v1' })),
    ).toThrow(/BERTH_JWT_SECRET or BERTH_JWKS_URL/);
    expect(() => module(settings({ provider: 'external', jwtSecret: 'x'.repeat(40) }))).toThrow(
      /BERTH_JWT_ISSUER/,
    );
    expect(() =>
      module(
        settings({ provider: 'external', jwksUrl: 'ftp://x', jwtIssuer: 'https://p.supabase.co/auth/v1' }),
      ),
    ).toThrow(/not an http/);
    const auth = module(
      settings({
        provider: 'external',
        jwtSecret: 'x'.repeat(40),
        jwtIssuer: 'https://p.supabase.co/auth/v1',
      }),
      false,
    );
    expect([auth.mode, auth.embedded, typeof auth.provisionUser]).toEqual([
      'external',
      undefined,
      'function',
    ]);
  });

  it('refuses a JWKS URL for its own sign-in, where it would mean nothing', () => {
    expect(() =>
      module(settings({ jwksUrl: 'https://p.supabase.co/auth/v1/.well-known/jwks.json' })),
    ).toThrow(/BERTH_AUTH_PROVIDER=external/);
  });
});
