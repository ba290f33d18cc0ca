/**
 * Token verification against keys served the way a Supabase project serves them: HS256
 * with the shared secret, ES256 and RS256 from a JWKS on a real local HTTP server. The
 * attacks: `alg: none`, algorithm confusion, a key embedded in the token (`jwk`), a key
 * URL in the token (`jku`, which must never be fetched), expired, not-yet-valid, foreign
 * issuer or audience, a non-user role or subject.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64url, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError } from '../../src/auth/errors.ts';
import { createTokenVerifier } from '../../src/auth/jwt.ts';
import { UnavailableError } from '../../src/domain/errors.ts';

const ISSUER = 'https://project.supabase.test/auth/v1';
const SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';

async function serveJson(
  body: () => unknown,
): Promise<{ url: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/auth/v1/.well-known/jwks.json`,
    hits: () => hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const claims = (overrides: JWTPayload = {}): JWTPayload => ({
  sub: randomUUID(),
  role: 'authenticated',
  aud: 'authenticated',
  iss: ISSUER,
  email: 'user@example.test',
  session_id: randomUUID(),
  exp: Math.floor(Date.now() / 1000) + 3600,
  ...overrides,
});

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'] | Uint8Array;
const sign = (payload: JWTPayload, key: Key, header: Record<string, unknown>) =>
  new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);

describe('access token verification', () => {
  let es: Awaited<ReturnType<typeof generateKeyPair>>;
  let rs: Awaited<ReturnType<typeof generateKeyPair>>;
  let jwks: Awaited<ReturnType<typeof serveJson>>;
  let attacker: Awaited<ReturnType<typeof serveJson>>;
  let evil: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    es = await generateKeyPair('ES256');
    rs = await generateKeyPair('RS256');
    evil = await generateKeyPair('ES256');
    const keys = [
      { ...(await exportJWK(es.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(rs.publicKey)), kid: 'rs-1', alg: 'RS256', use: 'sig' },
    ];
    const evilKeys = [{ ...(await exportJWK(evil.publicKey)), kid: 'es-1', alg: 'ES256' }];
    jwks = await serveJson(() => ({ keys }));
    attacker = await serveJson(() => ({ keys: evilKeys }));
  });
  afterAll(async () => {
    await jwks.close();
    await attacker.close();
  });

  it('accepts an HS256 token signed with the project secret and returns its user', async () => {
    const verifier = createTokenVerifier({ secret: SECRET, issuer: ISSUER });
    const payload = claims();
    const user = await verifier.verify(
      await sign(payload, new TextEncoder().encode(SECRET), { alg: 'HS256' }),
    );
    expect(user).toEqual({
      id: payload.sub,
      email: 'user@example.test',
      sessionId: payload.session_id,
      expiresAt: payload.exp,
    });
  });

  it('accepts ES256 and RS256 tokens whose keys the JWKS serves', async () => {
    const verifier = createTokenVerifier({ jwksUrl: jwks.url, issuer: ISSUER });
    const payload = claims();
    expect(
      (await verifier.verify(await sign(payload, es.privateKey, { alg: 'ES256', kid: 'es-1' }))).id,
    ).toBe(payload.sub);
    expect(
      (await verifier.verify(await sign(payload, rs.privateKey, { alg: 'RS256', kid: 'rs-1' }))).id,
    ).toBe(payload.sub);
    expect(jwks.hits()).toBe(1);
  });

  it('refuses alg none, and an HS256 token when only a JWKS is configured', async () => {
    const verifier = createTokenVerifier({ jwksUrl: jwks.url, issuer: ISSUER });
    const part = (v: object) => base64url.encode(JSON.stringify(v));
    const unsecured = `${part({ alg: 'none' })}.${part(claims())}.`;
    await expect(verifier.verify(unsecured)).rejects.toThrow(AuthenticationError);
    const hs = await sign(claims(), new TextEncoder().encode(SECRET), { alg: 'HS256', kid: 'es-1' });
    await expect(verifier.verify(hs)).rejects.toThrow(AuthenticationError);
  });

  it('never trusts a key carried in the token, nor fetches a key URL the token names', async () => {
    const verifier = createTokenVerifier({ jwksUrl: jwks.url, issuer: ISSUER });
    const embedded = await sign(claims(), evil.privateKey, {
      alg: 'ES256',
      kid: 'es-1',
      jwk: await exportJWK(evil.publicKey),
    });
    await expect(verifier.verify(embedded)).rejects.toThrow('The access token is not valid.');
    const before = attacker.hits();
    const pointed = await sign(claims(), evil.privateKey, {
      alg: 'ES256',
      kid: 'es-1',
      jku: attacker.url,
      x5u: attacker.url,
    });
    await expect(verifier.verify(pointed)).rejects.toThrow(AuthenticationError);
    expect(attacker.hits()).toBe(before);
  });

  it('refuses expired, not-yet-valid, foreign and non-user tokens', async () => {
    const verifier = createTokenVerifier({ secret: SECRET, issuer: ISSUER });
    const key = new TextEncoder().encode(SECRET);
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, JWTPayload][] = [
      ['expired', claims({ exp: now - 120 })],
      ['not yet valid', claims({ nbf: now + 300 })],
      ['another issuer', claims({ iss: 'https://other.supabase.test/auth/v1' })],
      ['another audience', claims({ aud: 'service_role' })],
      ['the service role', claims({ role: 'service_role' })],
      ['no role', claims({ role: undefined })],
      ['a subject that is not a UUID', claims({ sub: 'admin' })],
      ['no expiry', claims({ exp: undefined })],
    ];
    for (const [name, payload] of cases) {
      const error = await verifier.verify(await sign(payload, key, { alg: 'HS256' })).catch((e: Error) => e);
      expect({ name, error: error instanceof AuthenticationError }).toEqual({ name, error: true });
    }
    const expired = await verifier
      .verify(await sign(claims({ exp: now - 120 }), key, { alg: 'HS256' }))
      .catch((e) => e);
    expect((expired as AuthenticationError).reason).toBe('expired');
  });

  it('answers unavailable, not unauthorised, when the JWKS cannot be fetched', async () => {
    const verifier = createTokenVerifier({
      jwksUrl: 'http://127.0.0.1:9/auth/v1/.well-known/jwks.json',
      issuer: ISSUER,
      jwksTimeoutMs: 500,
    });
    const token = await sign(claims(), es.privateKey, { alg: 'ES256', kid: 'es-1' });
    await expect(verifier.verify(token)).rejects.toThrow(UnavailableError);
  });
});
