import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { buildApi, call, tokenFor } from './support.ts';

describe.each(testEngines())('/api/agents, tool environments and onboarding on %s', (engine: EngineName) => {
  let t: TestDatabase;
  let api: ReturnType<typeof buildApi>;
  const user = async () => {
    const id = await t.createUser();
    return { id, token: await tokenFor(id) };
  };
  const createAgent = async (token: string, name = 'researcher') =>
    (await call(api.app, 'POST', '/api/agents', { token, body: { name } })).json.agent as { id: string };

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    api = buildApi(t);
  });
  afterAll(() => t.close());

  it('creates, lists, reads and deletes the caller’s agents', async () => {
    const alice = await user();
    const created = await call(api.app, 'POST', '/api/agents', {
      token: alice.token,
      body: { name: ' researcher ' },
    });
    expect(created.status).toBe(201);
    expect(Object.keys(created.json.agent).sort()).toEqual(['created_at', 'id', 'name', 'updated_at']);
    expect(created.json.agent.name).toBe('researcher');
    const id = created.json.agent.id;
    expect((await call(api.app, 'GET', '/api/agents', { token: alice.token })).json).toEqual({
      agents: [created.json.agent],
    });
    expect((await call(api.app, 'GET', `/api/agents/${id}`, { token: alice.token })).json).toEqual(
      created.json,
    );
    expect((await call(api.app, 'DELETE', `/api/agents/${id}`, { token: alice.token })).status).toBe(204);
    expect((await call(api.app, 'GET', `/api/agents/${id}`, { token: alice.token })).status).toBe(404);
  });

  it('answers another user’s agent exactly like one that does not exist', async () => {
    const alice = await user();
    const bob = await user();
    const agent = await createAgent(alice.token);
    const missing = '3f0e8c9a-1d2b-4c5d-8e6f-7a8b9c0d1e2f';
    for (const [method, suffix] of [
      ['GET', ''],
      ['DELETE', ''],
      ['POST', '/tool-environment'],
      ['GET', '/tool-environment'],
      ['DELETE', '/tool-environment'],
    ] as const) {
      const theirs = await call(api.app, method, `/api/agents/${agent.id}${suffix}`, { token: bob.token });
      const nobody = await call(api.app, method, `/api/agents/${missing}${suffix}`, { token: bob.token });
      expect({ method, suffix, status: theirs.status }).toEqual({ method, suffix, status: 404 });
      expect(theirs.json.detail).toBe(nobody.json.detail);
      expect(theirs.json.type).toBe(nobody.json.type);
    }
    expect((await call(api.app, 'GET', '/api/agents', { token: bob.token })).json.agents).toEqual([]);
    expect((await call(api.app, 'GET', `/api/agents/${agent.id}`, { token: alice.token })).status).toBe(200);
  });

  it('deploys with 202 and the environment, returns the same one again, reads it and tears it down', async () => {
    const alice = await user();
    const agent = await createAgent(alice.token);
    const path = `/api/agents/${agent.id}/tool-environment`;
    expect((await call(api.app, 'GET', path, { token: alice.token })).status).toBe(404);
    const deployed = await call(api.app, 'POST', path, {
      token: alice.token,
      headers: { 'x-request-id': 'deploy-1' },
    });
    expect(deployed.status).toBe(202);
    expect(deployed.json.environment).toMatchObject({
      agent_id: agent.id,
      status: 'pending_creation',
      ssh_user: 'root',
    });
    expect(Object.keys(deployed.json.environment).sort()).toEqual(
      [
        'agent_id',
        'created_at',
        'droplet_id',
        'error_message',
        'id',
        'ip_address',
        'login_access',
        'name',
        'ssh_key_fingerprints',
        'ssh_port',
        'ssh_user',
        'status',
        'updated_at',
        'used_fallback_keys',
      ].sort(),
    );
    expect(['live', 'fixed']).toContain(deployed.json.environment.login_access);
    const call0 = api.environments.calls.find((c) => c.op === 'ensure' && c.agentId === agent.id);
    expect(call0).toMatchObject({ userId: alice.id, ctx: { requestId: 'deploy-1' } });
    const again = await call(api.app, 'POST', path, { token: alice.token });
    expect(again.json.environment.id).toBe(deployed.json.environment.id);
    const read = await call(api.app, 'GET', path, { token: alice.token });
    expect(read.status).toBe(200);
    expect(read.json.environment.id).toBe(deployed.json.environment.id);
    const torn = await call(api.app, 'DELETE', path, { token: alice.token });
    expect(torn.status).toBe(202);
    expect(torn.json.environment.status).toBe('pending_deletion');
  });

  it('refuses to delete an agent whose droplet still exists, and deletes it once torn down', async () => {
    const alice = await user();
    const agent = await createAgent(alice.token);
    await call(api.app, 'POST', `/api/agents/${agent.id}/tool-environment`, { token: alice.token });
    const refused = await call(api.app, 'DELETE', `/api/agents/${agent.id}`, { token: alice.token });
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toMatch(/tear it down/);
    await call(api.app, 'DELETE', `/api/agents/${agent.id}/tool-environment`, { token: alice.token });
    await api.environments.finishTeardown(agent.id, alice.id);
    expect((await call(api.app, 'DELETE', `/api/agents/${agent.id}`, { token: alice.token })).status).toBe(
      204,
    );
  });

  it('reports onboarding status from the onboarding service', async () => {
    const alice = await user();
    expect((await call(api.app, 'GET', '/api/onboarding', { token: alice.token })).json).toEqual({
      status: 'pending',
      error: null,
      key_id: null,
      updated_at: null,
    });
    api.onboarding.statuses.set(alice.id, {
      status: 'failed',
      error: 'DigitalOcean refused the key',
      keyId: '3f0e8c9a-1d2b-4c5d-8e6f-7a8b9c0d1e2f',
      updatedAt: new Date('2026-01-02T03:04:05Z'),
    });
    expect((await call(api.app, 'GET', '/api/onboarding', { token: alice.token })).json).toEqual({
      status: 'failed',
      error: 'DigitalOcean refused the key',
      key_id: '3f0e8c9a-1d2b-4c5d-8e6f-7a8b9c0d1e2f',
      updated_at: '2026-01-02T03:04:05.000Z',
    });
  });

  it('answers 503 "not available yet" where no environment or onboarding service is wired in', async () => {
    const bare = buildApi(t, { environments: undefined, onboarding: undefined });
    const alice = await user();
    const agent = await createAgent(alice.token);
    for (const [method, path] of [
      ['POST', `/api/agents/${agent.id}/tool-environment`],
      ['GET', `/api/agents/${agent.id}/tool-environment`],
      ['DELETE', `/api/agents/${agent.id}/tool-environment`],
      ['GET', '/api/onboarding'],
    ] as const) {
      const res = await call(bare.app, method, path, { token: alice.token });
      expect(res.status).toBe(503);
      expect(res.json).toMatchObject({
        type: 'https://berth.dev/problems/not-available-yet',
        code: 'not_available_yet',
      });
    }
  });

  it('refuses an agent name that is empty, too long or has control characters', async () => {
    const alice = await user();
    for (const name of ['', '   ', 'x'.repeat(101), 'a\u0007b']) {
      const res = await call(api.app, 'POST', '/api/agents', { token: alice.token, body: { name } });
      expect(res.status).toBe(400);
      expect(res.json.type).toBe('https://berth.dev/problems/invalid-input');
    }
  });

  it('refuses a field it does not take, naming it, instead of dropping it', async () => {
    const alice = await user();
    const res = await call(api.app, 'POST', '/api/agents', {
      token: alice.token,
      body: { name: 'bot', region: 'sgp1' },
    });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([
      { location: 'body', field: 'region', message: 'Not a field this route takes.' },
    ]);
    const list = await call(api.app, 'GET', '/api/agents', { token: alice.token });
    expect(list.json.agents).toEqual([]);
  });
});
