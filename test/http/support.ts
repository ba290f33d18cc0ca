/**
 * Builds the public API over a real test database for route tests: the real SSH key and
 * agent services, the honest fakes for environments and onboarding, and an HS256 token
 * verifier whose secret the tests sign with, so each test can mint exactly the token it
 * needs (valid, expired, wrongly signed, for another audience).
 */
import { SignJWT } from 'jose';
import { createTokenVerifier } from '../../src/auth/jwt.ts';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { createKeyring, generateMasterKey } from '../../src/domain/vault/keyring.ts';
import { createHttpApp, type HttpAppDeps } from '../../src/http/app.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { AgentService } from '../../src/services/agent-service.ts';
import { SshKeyService } from '../../src/services/ssh-key-service.ts';
import { DbSecretStore, EncryptedSecretStore } from '../../src/store/secrets.ts';
import type { TestDatabase } from '../support/db.ts';
import { FakeEnvironmentService, FakeOnboardingService } from './fakes.ts';

export const TEST_SECRET = 'route-tests-secret-0123456789-abcdefghijklmnop';
export const TEST_ISSUER = 'http://berth.test/auth/v1';
export const silentLogger = createLogger({ level: 'silent' });

export interface TokenOptions {
  secret?: string;
  issuer?: string;
  audience?: string;
  role?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
}

export function tokenFor(userId: string, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: options.role ?? 'authenticated', email: `${userId}@example.test` })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer(options.issuer ?? TEST_ISSUER)
    .setAudience(options.audience ?? 'authenticated')
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}

export function buildServices(t: TestDatabase) {
  const keyring = createKeyring([generateMasterKey('k1')]);
  const sshKeys = new SshKeyService({
    authz: t.authz,
    secrets: new EncryptedSecretStore(new DbSecretStore(), keyring),
    keygen: { generate: async (options) => generateKeyPair(options) },
  });
  const agents = new AgentService({ authz: t.authz });
  const environments = new FakeEnvironmentService(t.authz, agents);
  const onboarding = new FakeOnboardingService(t.authz);
  return { sshKeys, agents, environments, onboarding };
}

export function buildApi(t: TestDatabase, overrides: Partial<HttpAppDeps> = {}) {
  const services = buildServices(t);
  const app = createHttpApp({
    logger: silentLogger,
    ready: async () => true,
    ...services,
    auth: { verifier: createTokenVerifier({ secret: TEST_SECRET, issuer: TEST_ISSUER }) },
    rateLimits: { userPerMinute: 0, ipPerMinute: 0 },
    ...overrides,
  });
  return { app, ...services };
}

export interface Call {
  token?: string | undefined;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One request through `app.request`, with JSON in and the answer parsed when it is JSON. */
export async function call(
  app: { request: (path: string, init: RequestInit) => Response | Promise<Response> },
  method: string,
  path: string,
  options: Call = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  const json = type.includes('json') && text ? JSON.parse(text) : undefined;
  return { status: res.status, headers: res.headers, json, text };
}
