/**
 * Authorisation for every route of the API. The routes come from the OpenAPI document,
 * so a route added later is covered without editing this file: each one refuses every
 * kind of bad token with 401, and each route with an id answers 404 for another user's
 * resource, as it does for one that does not exist.
 */
import { base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { buildApi, call, TEST_ISSUER, tokenFor } from './support.ts';

interface Operation {
  method: string;
  path: string;
}

const BODIES: Record<string, unknown> = {
  'POST /api/ssh-keys': { name: 'k' },
  'POST /api/ssh-keys/import': { name: 'k', public_key: 'ssh-ed25519 AAAA' },
  'POST /api/agents': { name: 'a' },
};

function unsecuredToken(userId: string): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => base64url.encode(JSON.stringify(value));
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({
    sub: userId,
    role: 'authenticated',
    aud: 'authenticated',
    iss: TEST_ISSUER,
    exp: now + 3600,
  })}.`;
}

describe.each(testEngines())('authorisation of every API route on %s', (engine: EngineName) => {
  let t: TestDatabase;
  let api: ReturnType<typeof buildApi>;
  let operations: Operation[];
  let alice: { id: string; token: string; keyId: string; agentId: string };
  let bob: { id: string; token: string };

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    api = buildApi(t);
    const doc = (await call(api.app, 'GET', '/api/openapi.json')).json as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([, op]) => path.startsWith('/api/') && (op.security?.length ?? 0) > 0)
        .map(([method]) => ({ method: method.toUpperCase(), path })),
    );
    const aliceId = await t.createUser();
    const bobId = await t.createUser();
    const aliceToken = await tokenFor(aliceId);
    const [key] = await api.sshKeys.ensureUserHasSSHKeys(aliceId);
    const agent = await api.agents.createAgent(aliceId, { name: 'alice-agent' });
    await api.environments.ensureToolEnvironmentReady(agent.id, aliceId);
    alice = { id: aliceId, token: aliceToken, keyId: key?.id as string, agentId: agent.id };
    bob = { id: bobId, token: await tokenFor(bobId) };
  });
  afterAll(() => t.close());

  const idFor = (path: string) => (path.startsWith('/api/ssh-keys') ? alice.keyId : alice.agentId);
  const concrete = (op: Operation) => op.path.replace('{id}', idFor(op.path));

  it('covers the API: every user route is in the document and behind a token', () => {
    const names = operations.map((op) => `${op.method} ${op.path}`).sort();
    expect(names).toEqual(
      [
        'DELETE /api/agents/{id}',
        'DELETE /api/agents/{id}/tool-environment',
        'DELETE /api/ssh-keys/{id}',
        'GET /api/agents',
        'GET /api/agents/{id}',
        'GET /api/agents/{id}/tool-environment',
        'GET /api/onboarding',
        'GET /api/ssh-keys',
        'GET /api/ssh-keys/{id}',
        'GET /api/ssh-keys/{id}/private-key',
        'POST /api/agents',
        'POST /api/agents/{id}/tool-environment',
        'POST /api/ssh-keys',
        'POST /api/ssh-keys/import',
      ].sort(),
    );
  });

  const badTokens: [string, () => Promise<string | undefined>][] = [
    ['no token', async () => undefined],
    ['a token that is not a JWT', async () => 'not-a-jwt'],
    ['a bad signature', () => tokenFor(alice.id, { secret: 'another-secret-of-enough-length-0123456789' })],
    ['alg none', async () => unsecuredToken(alice.id)],
    ['an expired token', () => tokenFor(alice.id, { expiresIn: -120 })],
    ['the wrong audience', () => tokenFor(alice.id, { audience: 'service_role' })],
    ['the wrong issuer', () => tokenFor(alice.id, { issuer: 'https://evil.example/auth/v1' })],
    ['the anon role', () => tokenFor(alice.id, { role: 'anon' })],
    ['a subject that is not a user id', () => tokenFor('admin')],
  ];

  it.each(badTokens)('refuses %s on every route with 401 and changes nothing', async (_name, make) => {
    const token = await make();
    const keysBefore = (await api.sshKeys.getUserSSHKeys(alice.id)).length;
    const agentsBefore = (await api.agents.listAgents(alice.id)).length;
    for (const op of operations) {
      const body = BODIES[`${op.method} ${op.path}`];
      const res = await call(api.app, op.method, concrete(op), { token, body });
      expect({ route: `${op.method} ${op.path}`, status: res.status }).toEqual({
        route: `${op.method} ${op.path}`,
        status: 401,
      });
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="berth"/);
      expect(res.json).toMatchObject({ type: 'https://berth.dev/problems/unauthorized', status: 401 });
    }
    expect((await api.sshKeys.getUserSSHKeys(alice.id)).length).toBe(keysBefore);
    expect((await api.agents.listAgents(alice.id)).length).toBe(agentsBefore);
    expect((await api.sshKeys.getUserSSHKey(alice.id, alice.keyId)).privateKeyDownloaded).toBe(false);
  });

  it('answers 404 on every route with an id when the id is another user’s, as for a missing id', async () => {
    const withIds = operations.filter((op) => op.path.includes('{id}'));
    expect(withIds.length).toBe(8);
    for (const op of withIds) {
      const theirs = await call(api.app, op.method, concrete(op), { token: bob.token });
      const missing = await call(
        api.app,
        op.method,
        op.path.replace('{id}', '0b9f3a8e-5c2d-4e1f-9a8b-7c6d5e4f3a2b'),
        {
          token: bob.token,
        },
      );
      const malformed = await call(api.app, op.method, op.path.replace('{id}', 'not-a-uuid'), {
        token: bob.token,
      });
      for (const res of [theirs, missing, malformed]) {
        expect({ route: `${op.method} ${op.path}`, status: res.status }).toEqual({
          route: `${op.method} ${op.path}`,
          status: 404,
        });
        expect(res.json.type).toBe('https://berth.dev/problems/not-found');
      }
      expect(theirs.json.detail).toBe(missing.json.detail);
    }
    // Alice's key, agent and environment are untouched by everything Bob tried.
    expect((await api.sshKeys.getUserSSHKey(alice.id, alice.keyId)).privateKeyDownloaded).toBe(false);
    expect((await api.agents.getAgent(alice.id, alice.agentId)).name).toBe('alice-agent');
    expect((await api.environments.getToolEnvironment(alice.agentId, alice.id))?.status).toBe(
      'pending_creation',
    );
  });

  it('accepts a token within the 60-second clock skew and refuses one beyond it', async () => {
    const skewed = await tokenFor(alice.id, { expiresIn: -30 });
    expect((await call(api.app, 'GET', '/api/ssh-keys', { token: skewed })).status).toBe(200);
    const late = await tokenFor(alice.id, { expiresIn: -61 });
    const res = await call(api.app, 'GET', '/api/ssh-keys', { token: late });
    expect(res.status).toBe(401);
    expect(res.json.detail).toBe('The access token has expired.');
  });
});
