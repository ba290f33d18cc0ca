/**
 * The OpenAPI document is generated from the routes: it must be a valid OpenAPI 3.1
 * document, list every route the application serves (and nothing it does not), and the
 * documentation page must render it without fetching anything from elsewhere.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedAuthService } from '../../src/auth/embedded-idp.ts';
import { createTokenSigner, createTokenVerifier } from '../../src/auth/jwt.ts';
import { LoginThrottle } from '../../src/auth/login-throttle.ts';
import { createInternalApp } from '../../src/http/internal-app.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { buildApi, call, silentLogger, TEST_ISSUER, TEST_SECRET } from './support.ts';

const NOT_IN_DOCUMENT = new Set([
  '/api/openapi.json',
  '/api/docs',
  '/api/docs/docs.js',
  '/api/docs/docs.css',
]);

function servedRoutes(app: { routes: { method: string; path: string }[] }, exclude: Set<string>) {
  return [
    ...new Set(
      app.routes
        .filter((r) => r.method !== 'ALL' && !exclude.has(r.path))
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`),
    ),
  ].sort();
}

function documentedRoutes(doc: { paths: Record<string, Record<string, unknown>> }) {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

describe('the OpenAPI document', () => {
  let t: TestDatabase;
  let api: ReturnType<typeof buildApi>;
  let doc: { openapi: string; paths: Record<string, Record<string, unknown>> };

  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    const verifier = createTokenVerifier({ secret: TEST_SECRET, issuer: TEST_ISSUER });
    const embedded = new EmbeddedAuthService({
      authz: t.authz,
      registration: { enhancedUserRegistration: async () => ({ created: true }) },
      signer: createTokenSigner({ secret: TEST_SECRET, issuer: TEST_ISSUER, ttlSeconds: 3600 }),
      refreshTokenTtlSeconds: 3600,
      throttle: new LoginThrottle(),
    });
    api = buildApi(t, { auth: { verifier, embedded } });
    doc = (await call(api.app, 'GET', '/api/openapi.json')).json;
  });
  afterAll(() => t.close());

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('lists exactly the routes the application serves', () => {
    const served = servedRoutes(api.app, NOT_IN_DOCUMENT);
    expect(documentedRoutes(doc)).toEqual(served);
    expect(served).toEqual(
      expect.arrayContaining([
        'GET /api/ssh-keys',
        'POST /api/ssh-keys/import',
        'GET /api/ssh-keys/{id}/private-key',
        'POST /api/agents/{id}/tool-environment',
        'GET /api/onboarding',
        'POST /auth/v1/signup',
        'POST /auth/v1/token',
        'GET /auth/v1/user',
        'POST /auth/v1/logout',
        'GET /healthz',
        'GET /readyz',
      ]),
    );
  });

  it('declares the bearer scheme and problem answers, and keys without private fields', () => {
    const components = (doc as unknown as { components: Record<string, Record<string, unknown>> }).components;
    expect(components.securitySchemes?.bearerAuth).toEqual({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    const key = components.schemas?.SshKey as { properties: Record<string, unknown> };
    expect(Object.keys(key.properties).some((p) => /private_key$|secret/.test(p))).toBe(false);
    const get = doc.paths['/api/ssh-keys/{id}']?.get as { responses: Record<string, { content: object }> };
    expect(Object.keys(get.responses['404']?.content ?? {})).toEqual(['application/problem+json']);
  });

  it('is rendered by a documentation page that loads nothing from elsewhere', async () => {
    const page = await call(api.app, 'GET', '/api/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const script = await call(api.app, 'GET', '/api/docs/docs.js');
    const style = await call(api.app, 'GET', '/api/docs/docs.css');
    expect(script.status).toBe(200);
    expect(script.text).toContain("fetch('/api/openapi.json')");
    for (const text of [page.text, script.text, style.text])
      expect(text).not.toMatch(/https?:\/\/(?!berth\.dev)/);
    expect(script.text).not.toContain('innerHTML');
  });

  it('documents the internal API too, with its secret as the security scheme', async () => {
    const internal = createInternalApp({
      secret: 'x'.repeat(40),
      logger: silentLogger,
      registration: { enhancedUserRegistration: async () => ({ created: true }) },
    });
    const res = await internal.request('/internal/openapi.json', {
      headers: { 'x-internal-api-secret': 'x'.repeat(40) },
    });
    const internalDoc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    expect((await new Validator().validate(internalDoc)).valid).toBe(true);
    expect(documentedRoutes(internalDoc)).toEqual(
      servedRoutes(internal, new Set(['/internal/openapi.json'])),
    );
    expect(documentedRoutes(internalDoc)).toEqual([
      'DELETE /internal/agents/{agentId}/tool-environment',
      'GET /internal/agents/{agentId}/tool-environment',
      'POST /internal/agents/{agentId}/ensure-tool-environment',
      'POST /internal/users/{userId}/onboard',
    ]);
  });
});
