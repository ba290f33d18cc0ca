/**
 * The internal API: only callers holding the service secret get in; they act for the user
 * named in the request, and berth still checks that user owns the agent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInternalApp, secretMatches } from '../../src/http/internal-app.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { buildServices, call, silentLogger } from './support.ts';

const SECRET = 'internal-secret-for-tests-0123456789abcdef';

describe.each(testEngines())('the internal API on %s', (engine: EngineName) => {
  let t: TestDatabase;
  let services: ReturnType<typeof buildServices>;
  let app: ReturnType<typeof createInternalApp>;
  const withSecret = { 'x-internal-api-secret': SECRET };

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    services = buildServices(t);
    app = createInternalApp({
      secret: SECRET,
      logger: silentLogger,
      environments: services.environments,
      registration: services.onboarding,
    });
  });
  afterAll(() => t.close());

  it('refuses requests without the right secret', async () => {
    const userId = await t.createUser();
    const agent = await services.agents.createAgent(userId, { name: 'a' });
    const path = `/internal/agents/${agent.id}/ensure-tool-environment`;
    const attempts: Record<string, string>[] = [
      {},
      { 'x-internal-api-secret': 'wrong' },
      { 'x-internal-api-secret': `${SECRET}x` },
    ];
    for (const headers of attempts) {
      const res = await call(app, 'POST', path, { body: { userId }, headers });
      expect(res.status).toBe(401);
      expect(res.json.type).toBe('https://berth.dev/problems/unauthorized');
    }
    expect(await services.environments.getToolEnvironment(agent.id, userId)).toBeNull();
  });

  it('deploys, reads and tears down for the user named in the request', async () => {
    const userId = await t.createUser();
    const agent = await services.agents.createAgent(userId, { name: 'a' });
    const deployed = await call(app, 'POST', `/internal/agents/${agent.id}/ensure-tool-environment`, {
      body: { userId },
      headers: { ...withSecret, 'x-request-id': 'edge-1' },
    });
    expect(deployed.status).toBe(202);
    expect(deployed.json.environment).toMatchObject({ agent_id: agent.id, status: 'pending_creation' });
    expect(services.environments.calls.at(-1)).toMatchObject({
      op: 'ensure',
      userId,
      ctx: { requestId: 'edge-1', actor: 'service:internal-api' },
    });
    const read = await call(app, 'GET', `/internal/agents/${agent.id}/tool-environment?userId=${userId}`, {
      headers: withSecret,
    });
    expect(read.json.environment.id).toBe(deployed.json.environment.id);
    const torn = await call(app, 'DELETE', `/internal/agents/${agent.id}/tool-environment`, {
      body: { userId },
      headers: withSecret,
    });
    expect([torn.status, torn.json.environment.status]).toEqual([202, 'pending_deletion']);
  });

  it('accepts the user id of a teardown in the query when the client cannot send a DELETE body', async () => {
    const userId = await t.createUser();
    const agent = await services.agents.createAgent(userId, { name: 'a' });
    await services.environments.ensureToolEnvironmentReady(agent.id, userId);
    const torn = await call(app, 'DELETE', `/internal/agents/${agent.id}/tool-environment?userId=${userId}`, {
      headers: withSecret,
    });
    expect(torn.status).toBe(202);
    const neither = await call(app, 'DELETE', `/internal/agents/${agent.id}/tool-environment`, {
      headers: withSecret,
    });
    expect(neither.status).toBe(400);
  });

  it('answers 404 when the named user does not own the agent, and 400 for a malformed user id', async () => {
    const owner = await t.createUser();
    const other = await t.createUser();
    const agent = await services.agents.createAgent(owner, { name: 'a' });
    const res = await call(app, 'POST', `/internal/agents/${agent.id}/ensure-tool-environment`, {
      body: { userId: other },
      headers: withSecret,
    });
    expect(res.status).toBe(404);
    const bad = await call(app, 'POST', `/internal/agents/${agent.id}/ensure-tool-environment`, {
      body: { userId: 'admin' },
      headers: withSecret,
    });
    expect([bad.status, bad.json.errors?.[0]?.field]).toEqual([400, 'userId']);
    const missing = await call(app, 'GET', `/internal/agents/${agent.id}/tool-environment`, {
      headers: withSecret,
    });
    expect(missing.status).toBe(400);
  });

  it('registers a user signed up elsewhere, idempotently', async () => {
    const userId = '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    const first = await call(app, 'POST', `/internal/users/${userId}/onboard`, {
      body: { email: 'new@example.test' },
      headers: withSecret,
    });
    expect([first.status, first.json]).toEqual([202, { user_id: userId, created: true }]);
    const again = await call(app, 'POST', `/internal/users/${userId}/onboard`, { headers: withSecret });
    expect(again.json).toEqual({ user_id: userId, created: false });
    expect(services.onboarding.registered.map((u) => u.id)).toEqual([userId, userId]);
    const agent = await services.agents.createAgent(userId, { name: 'works now' });
    expect(agent.userId).toBe(userId);
  });

  it('answers 503 for environments when no environment service is wired in', async () => {
    const bare = createInternalApp({
      secret: SECRET,
      logger: silentLogger,
      registration: services.onboarding,
    });
    const res = await call(
      bare,
      'GET',
      `/internal/agents/${crypto.randomUUID()}/tool-environment?userId=${crypto.randomUUID()}`,
      {
        headers: withSecret,
      },
    );
    expect([res.status, res.json.code]).toEqual([503, 'not_available_yet']);
  });

  it('matches only the exact secret', () => {
    expect(secretMatches(SECRET, SECRET)).toBe(true);
    expect(secretMatches(SECRET, SECRET.slice(0, -1))).toBe(false);
    expect(secretMatches(SECRET, undefined)).toBe(false);
  });
});
