import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRoomFor } from '../../src/domain/limits.ts';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { createKeyring, generateMasterKey } from '../../src/domain/vault/keyring.ts';
import { AgentService } from '../../src/services/agent-service.ts';
import type { EnvironmentService } from '../../src/services/contracts.ts';
import { SshKeyService } from '../../src/services/ssh-key-service.ts';
import { DbSecretStore, EncryptedSecretStore } from '../../src/store/secrets.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { buildApi, call, tokenFor } from './support.ts';

describe.each(testEngines())('per-user limits through the API on %s', (engine: EngineName) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterAll(() => t.close());

  it('refuses the 21st of 35 agents with a 409 that names the limit and the count', async () => {
    const { app } = buildApi(t);
    const userId = await t.createUser();
    const token = await tokenFor(userId);
    const answers = [];
    for (let i = 1; i <= 35; i++) {
      answers.push(await call(app, 'POST', '/api/agents', { token, body: { name: `agent ${i}` } }));
    }
    expect(answers.slice(0, 20).every((a) => a.status === 201)).toBe(true);
    const refused = answers[20]!;
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(refused.headers.get('retry-after')).toBeNull();
    expect(refused.json).toMatchObject({
      type: 'https://berth.dev/problems/limit-reached',
      status: 409,
      code: 'limit_reached',
      limit: 'agents_per_user',
      max: 20,
      current: 20,
      detail:
        'You have 20 agents, and berth allows 20 per user (the agents_per_user limit). Delete an agent to create another.',
    });
    expect(answers.slice(21).every((a) => a.status === 409)).toBe(true);
    const listed = await call(app, 'GET', '/api/agents', { token });
    expect(listed.json.agents).toHaveLength(20);
    // Deleting one makes room for one.
    const first = answers[0]!.json.agent.id as string;
    expect((await call(app, 'DELETE', `/api/agents/${first}`, { token })).status).toBe(204);
    expect((await call(app, 'POST', '/api/agents', { token, body: { name: 'again' } })).status).toBe(201);
    expect((await call(app, 'POST', '/api/agents', { token, body: { name: 'one more' } })).status).toBe(409);
  });

  it('answers a deploy past the limit of live environments with the same kind of 409', async () => {
    // The service's own refusal (test/environments/limits.test.ts), as the route answers it.
    const atTheLimit: EnvironmentService = {
      async ensureToolEnvironmentReady() {
        requireRoomFor('live_environments_per_user', 5, 5);
        throw new Error('requireRoomFor let a sixth environment through');
      },
      getToolEnvironment: async () => null,
      teardownToolEnvironment: async () => {
        throw new Error('not called');
      },
    };
    const { app } = buildApi(t, { environments: atTheLimit });
    const userId = await t.createUser();
    const token = await tokenFor(userId);
    const agent = (await call(app, 'POST', '/api/agents', { token, body: { name: 'scout' } })).json.agent;
    const answer = await call(app, 'POST', `/api/agents/${agent.id}/tool-environment`, { token });
    expect(answer.status).toBe(409);
    expect(answer.json).toMatchObject({
      type: 'https://berth.dev/problems/limit-reached',
      code: 'limit_reached',
      limit: 'live_environments_per_user',
      max: 5,
      current: 5,
    });
    expect(answer.json.detail).toMatch(/^You have 5 live tool environments, and berth allows 5 per user/);
  });

  it('takes the operator’s limit, and 0 as no limit', async () => {
    const userId = await t.createUser();
    const token = await tokenFor(userId);
    const strict = buildApi(t, { agents: new AgentService({ authz: t.authz, maxAgentsPerUser: 1 }) }).app;
    expect((await call(strict, 'POST', '/api/agents', { token, body: { name: 'one' } })).status).toBe(201);
    const second = await call(strict, 'POST', '/api/agents', { token, body: { name: 'two' } });
    expect(second.json).toMatchObject({ status: 409, max: 1, current: 1 });
    const open = buildApi(t, { agents: new AgentService({ authz: t.authz, maxAgentsPerUser: 0 }) }).app;
    expect((await call(open, 'POST', '/api/agents', { token, body: { name: 'two' } })).status).toBe(201);
  });

  it('refuses a key past the per-user key limit, imported or generated, also when sent at once', async () => {
    const sshKeys = new SshKeyService({
      authz: t.authz,
      secrets: new EncryptedSecretStore(new DbSecretStore(), createKeyring([generateMasterKey('k1')])),
      keygen: { generate: async (options) => generateKeyPair(options) },
      maxKeysPerUser: 3,
    });
    const { app } = buildApi(t, { sshKeys });
    const userId = await t.createUser();
    const token = await tokenFor(userId);
    const publicKeys = await Promise.all(
      Array.from(
        { length: 6 },
        async (_, i) => (await generateKeyPair({ algorithm: 'ed25519', comment: `k${i}` })).publicKey,
      ),
    );
    // Six imports at once: the count and the insert are one step under the user's lock.
    const answers = await Promise.all(
      publicKeys.map((key, i) =>
        call(app, 'POST', '/api/ssh-keys/import', { token, body: { name: `laptop ${i}`, public_key: key } }),
      ),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(3);
    const refused = answers.filter((a) => a.status === 409);
    expect(refused).toHaveLength(3);
    expect(refused[0]!.json).toMatchObject({
      type: 'https://berth.dev/problems/limit-reached',
      limit: 'keys_per_user',
      max: 3,
      current: 3,
      detail:
        'You have 3 SSH keys, and berth allows 3 per user (the keys_per_user limit). Delete a key to add another.',
    });
    const generated = await call(app, 'POST', '/api/ssh-keys', { token, body: { name: 'fourth' } });
    expect(generated.json).toMatchObject({ status: 409, limit: 'keys_per_user' });
    const listed = await call(app, 'GET', '/api/ssh-keys', { token });
    expect(listed.json.keys).toHaveLength(3);
    // Deleting one makes room for one.
    const first = listed.json.keys[0].id as string;
    expect((await call(app, 'DELETE', `/api/ssh-keys/${first}`, { token })).status).toBe(204);
    expect((await call(app, 'POST', '/api/ssh-keys', { token, body: { name: 'fourth' } })).status).toBe(201);
  });
});
