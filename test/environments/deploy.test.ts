import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/domain/errors.ts';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { testEngines } from '../support/db.ts';
import { eventually, openStack, type Stack, sshEcho } from '../support/environments.ts';

const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;

describe.each(testEngines())('tool environments on %s', (engine) => {
  let s: Stack;
  beforeAll(async () => {
    s = await openStack(engine);
  });
  afterAll(async () => {
    expect(s.emulator.violations()).toEqual([]);
    await s.close();
  });

  const activeEnv = (agentId: string, userId: string) =>
    eventually(async () => {
      const env = await s.environments.service.getToolEnvironment(agentId, userId);
      if (env?.status === 'error_creation') throw new Error(`deploy failed: ${env.errorMessage}`);
      return env?.status === 'active' ? env : null;
    });

  it('deploys a droplet that its owner logs into with real ssh, and no one else', async () => {
    const alice = await s.t.createUser();
    const agentId = await s.createAgent(alice);
    const first = await s.environments.service.ensureToolEnvironmentReady(agentId, alice, {
      requestId: 'r1',
    });
    expect(first.status).toBe('pending_creation');
    const env = await activeEnv(agentId, alice);
    expect(env.ipAddress).toMatch(/^127\./);
    expect(env.sshPort).toBe(s.emulator.sshPort);
    expect(env.sshKeyFingerprints).toHaveLength(1);
    expect(env.usedFallbackKeys).toBe(false);
    const [key] = await s.sshKeys.getUserSSHKeys(alice);
    const pem = await s.sshKeys.readPrivateKeyAsService(key!.id, 'test login');
    expect(await sshEcho(pem, env.ipAddress!, env.sshPort!)).toMatchObject({ ok: true });
    const stranger = generateKeyPair({ comment: 'stranger' }).privateKey;
    expect((await sshEcho(stranger, env.ipAddress!, env.sshPort!)).ok).toBe(false);
    const audit = rowsOf<{ operation: string }>(
      await s.t.authz.asService('test: audit', (tx) =>
        tx.execute(
          sql`select operation from ssh_key_audit_log where agent_id = ${agentId} order by created_at`,
        ),
      ),
    ).map((r) => r.operation);
    expect(audit).toEqual(expect.arrayContaining(['deploy.requested', 'deploy.created']));
    // The deploy's DigitalOcean calls (the key's registration, the create) name its request.
    const calls = s.clientLog.filter((l) => l.message === 'DigitalOcean call' && l.fields.method === 'POST');
    const created = calls.filter((l) => l.fields.requestId === 'r1').map((l) => l.fields.path);
    expect(created).toEqual(expect.arrayContaining(['/v2/account/keys', '/v2/droplets']));
  });

  it('makes one droplet for 50 concurrent deploys of one agent, and every caller gets it', async () => {
    const userId = await s.t.createUser();
    const agentId = await s.createAgent(userId);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => s.environments.service.ensureToolEnvironmentReady(agentId, userId)),
    );
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    await activeEnv(agentId, userId);
    const droplets = await s.client.listDropletsByTag(`agent:${agentId}`);
    expect(droplets).toHaveLength(1);
  });

  it('does not deploy another user’s agent', async () => {
    const owner = await s.t.createUser();
    const other = await s.t.createUser();
    const agentId = await s.createAgent(owner);
    await expect(s.environments.service.ensureToolEnvironmentReady(agentId, other)).rejects.toThrow(
      NotFoundError,
    );
    await expect(s.environments.service.getToolEnvironment(agentId, other)).rejects.toThrow(NotFoundError);
    await expect(s.environments.service.teardownToolEnvironment(agentId, other)).rejects.toThrow(
      NotFoundError,
    );
  });

  it('tears down: the droplet goes and the record becomes deleted, keys stay', async () => {
    const userId = await s.t.createUser();
    const agentId = await s.createAgent(userId);
    await s.environments.service.ensureToolEnvironmentReady(agentId, userId);
    const env = await activeEnv(agentId, userId);
    const down = await s.environments.service.teardownToolEnvironment(agentId, userId);
    expect(down.status).toBe('pending_deletion');
    await s.environments.service.settled();
    expect(await s.environments.service.getToolEnvironment(agentId, userId)).toBeNull();
    expect(await s.client.listDropletsByTag(`agent:${agentId}`)).toEqual([]);
    expect(await s.sshKeys.getUserSSHKeys(userId)).toHaveLength(1);
    const [row] = rowsOf<{ status: string }>(
      await s.t.authz.asService('test', (tx) =>
        tx.execute(sql`select status from agent_droplets where id = ${env.id}`),
      ),
    );
    expect(row?.status).toBe('deleted');
    // Deploying again afterwards makes a fresh environment.
    const again = await s.environments.service.ensureToolEnvironmentReady(agentId, userId);
    expect(again.id).not.toBe(env.id);
  });

  it('never uses a key deleted before the deploy started, even from a warm cache', async () => {
    const userId = await s.t.createUser();
    const agentA = await s.createAgent(userId, 'a');
    await s.environments.service.ensureToolEnvironmentReady(agentA, userId);
    await activeEnv(agentA, userId);
    const [oldKey] = await s.sshKeys.getUserSSHKeys(userId);
    expect(await s.deploymentKeys.getDeploymentSSHKeys(userId)).toMatchObject({
      fingerprints: [oldKey!.fingerprintMd5],
    });
    await s.sshKeys.deleteUserSSHKey(userId, oldKey!.id);
    const agentB = await s.createAgent(userId, 'b');
    await s.environments.service.ensureToolEnvironmentReady(agentB, userId);
    const envB = await activeEnv(agentB, userId);
    expect(envB.sshKeyFingerprints).not.toContain(oldKey!.fingerprintMd5);
    expect(envB.sshKeyFingerprints).toHaveLength(1);
  });

  it('never uses a key deleted where this process did not hear of it: the create checks the database', async () => {
    const userId = await s.t.createUser();
    const agentA = await s.createAgent(userId, 'a');
    await s.environments.service.ensureToolEnvironmentReady(agentA, userId);
    await activeEnv(agentA, userId);
    const stale = await s.deploymentKeys.getDeploymentSSHKeys(userId);
    const [oldKey] = await s.sshKeys.getUserSSHKeys(userId);
    await s.t.authz.asService('test: delete a key behind berth’s back', async (tx) => {
      await tx.execute(sql`delete from user_ssh_keys where id = ${oldKey!.id}`);
    });
    // As if this process had missed the delete's notice: the cache still names the key.
    await eventually(async () => (await s.cache.get(userId)) === undefined);
    await s.cache.set(userId, stale);
    const agentB = await s.createAgent(userId, 'b');
    await s.environments.service.ensureToolEnvironmentReady(agentB, userId);
    const envB = await activeEnv(agentB, userId);
    expect(envB.sshKeyFingerprints).not.toContain(oldKey!.fingerprintMd5);
    expect(envB.sshKeyFingerprints).toHaveLength(1);
  });
});
