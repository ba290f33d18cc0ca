/**
 * What happens when things go wrong: the key service fails (fallback keys), the create's
 * answer is lost, berth dies between steps. After one reconcile there is never an
 * orphaned or a duplicate droplet.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployTagFor } from '../../src/digitalocean/client/deploy-tag.ts';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { type EngineName, testEngines } from '../support/db.ts';
import { eventually, openStack, type Stack } from '../support/environments.ts';
import { realHostsAvailable } from '../support/real-hosts.ts';

const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;

// Every engine with light droplets; once more with real-host droplets (cloud-init and sshd
// booting for real) where the machine can, and always in CI, on PGlite: the droplets are
// what changes, and a boot costs a few CPU seconds.
const cases: Array<[EngineName, 'light' | 'real']> = [
  ...testEngines().map((engine): [EngineName, 'light'] => [engine, 'light']),
  ...(realHostsAvailable || process.env.CI === 'true' ? [['pglite', 'real'] as [EngineName, 'real']] : []),
];

describe.each(cases)('environment recovery on %s, %s droplets', { timeout: 180_000 }, (engine, hosts) => {
  let s: Stack;
  // A real host turns active once it has booted: allow for a loaded machine.
  const settle = <T>(check: () => Promise<T | null | undefined | false>) =>
    eventually(check, hosts === 'real' ? 150_000 : 30_000);
  let operatorKeyId: number;
  beforeAll(async () => {
    const plain = await openStack(engine, { hosts });
    // The operator's static key, registered on the account beforehand.
    const operator = generateKeyPair({ comment: 'operator' });
    operatorKeyId = (
      await plain.client.ensureSshKey({
        name: 'operator',
        publicKey: operator.publicKey,
        fingerprintMd5: operator.fingerprintMd5,
      })
    ).id;
    await plain.environments.close();
    s = await openStack(engine, {
      fallbackKeys: [operatorKeyId],
      existing: plain.t,
      reuseEmulator: plain.emulator,
    });
  });
  afterAll(async () => {
    await s.close();
  });

  const statusOf = (agentId: string, userId: string) =>
    s.environments.service.getToolEnvironment(agentId, userId).then((e) => e?.status);

  it('deploys with the fallback keys when the user’s keys cannot be registered, and says so', async () => {
    const userId = await s.t.createUser();
    const agentId = await s.createAgent(userId);
    s.emulator.admin.setErrorRate('sshKeys_get', 500, 1);
    s.emulator.admin.setErrorRate('sshKeys_create', 500, 1);
    try {
      await s.environments.service.ensureToolEnvironmentReady(agentId, userId);
      const env = await settle(async () => {
        const e = await s.environments.service.getToolEnvironment(agentId, userId);
        return e?.status === 'active' || e?.status === 'error_creation' ? e : null;
      });
      expect(env).toMatchObject({
        status: 'active',
        usedFallbackKeys: true,
        sshKeyFingerprints: [String(operatorKeyId)],
      });
    } finally {
      await s.emulator.admin.reset();
    }
    const audit = rowsOf<{ operation: string; details: { reason?: string } }>(
      await s.t.authz.asService('test', (tx) =>
        tx.execute(
          sql`select operation, details from ssh_key_audit_log where agent_id = ${agentId} and operation = 'deploy.fallback_keys'`,
        ),
      ),
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]?.details.reason).toBeTruthy();
  });

  it('adopts a droplet whose create succeeded but was never recorded', async () => {
    const userId = await s.t.createUser();
    const agentId = await s.createAgent(userId);
    // What a crash between DigitalOcean's answer and the database write leaves: the record
    // says `creating` with no droplet, and DigitalOcean has the droplet with its tag.
    const tag = deployTagFor(randomUUID());
    const tags = [tag, 'berth', `agent:${agentId}`];
    await s.t.authz.withUser(userId, (tx) =>
      tx.execute(sql`insert into agent_droplets (agent_id, user_id, status, name, region, size, image, deploy_tag, tags)
        values (${agentId}, ${userId}, 'creating', 'lost', 'nyc3', 's-1vcpu-1gb', 'ubuntu-24-04-x64', ${tag}, array[${tags[0]}, ${tags[1]}, ${tags[2]}])`),
    );
    const made = await s.client.createDroplet({
      name: 'lost',
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
      tags,
    });
    const report = await s.environments.reconciler.reconcile();
    expect(report.adopted).toBe(1);
    const env = await settle(async () => {
      const e = await s.environments.service.getToolEnvironment(agentId, userId);
      return e?.status === 'active' ? e : null;
    });
    expect(env.dropletId).toBe(made.droplet.id);
    expect(await s.client.listDropletsByTag(`agent:${agentId}`)).toHaveLength(1);
  });

  it('loses no droplet when the create’s answer is lost: the deploy finds it by its tag', async () => {
    const userId = await s.t.createUser();
    const agentId = await s.createAgent(userId);
    await s.deploymentKeys.getDeploymentSSHKeys(userId);
    s.emulator.admin.acceptThenFail('droplets_create', 'drop', 1);
    await s.environments.service.ensureToolEnvironmentReady(agentId, userId);
    await settle(async () => (await statusOf(agentId, userId)) === 'active');
    await s.emulator.admin.reset();
    await s.environments.reconciler.reconcile();
    expect(await s.client.listDropletsByTag(`agent:${agentId}`)).toHaveLength(1);
  });

  it('deploys again an environment whose creation failed, on the same record', async () => {
    const userId = await s.t.createUser();
    const agentId = await s.createAgent(userId);
    await s.deploymentKeys.getDeploymentSSHKeys(userId);
    s.emulator.admin.setErrorRate('droplets_create', 500, 1);
    let failed: Awaited<ReturnType<typeof s.environments.service.getToolEnvironment>>;
    try {
      await s.environments.service.ensureToolEnvironmentReady(agentId, userId);
      await s.environments.service.settled();
      failed = await s.environments.service.getToolEnvironment(agentId, userId);
      expect(failed?.status).toBe('error_creation');
      expect(failed?.errorMessage).toMatch(/DigitalOcean/);
    } finally {
      await s.emulator.admin.reset();
    }
    const again = await s.environments.service.ensureToolEnvironmentReady(agentId, userId);
    expect(again).toMatchObject({ id: failed!.id, status: 'pending_creation', errorMessage: null });
    await settle(async () => (await statusOf(agentId, userId)) === 'active');
    expect(await s.client.listDropletsByTag(`agent:${agentId}`)).toHaveLength(1);
  });

  it('destroys a droplet that belongs to no live record', async () => {
    const orphan = await s.client.createDroplet({
      name: 'orphan',
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
      tags: [deployTagFor(randomUUID()), 'berth', s.installationTag],
    });
    const report = await s.environments.reconciler.reconcile();
    expect(report.destroyed).toBeGreaterThanOrEqual(1);
    const all = await s.client.listDropletsByTag('berth');
    expect(all.map((d) => d.id)).not.toContain(orphan.droplet.id);
  });

  it('marks unresponsive an environment whose droplet vanished', async () => {
    const userId = await s.t.createUser();
    const agentId = await s.createAgent(userId);
    await s.environments.service.ensureToolEnvironmentReady(agentId, userId);
    await settle(async () => (await statusOf(agentId, userId)) === 'active');
    const [droplet] = await s.client.listDropletsByTag(`agent:${agentId}`);
    await s.client.deleteDroplet(droplet!.id);
    await s.environments.reconciler.reconcile();
    expect(await statusOf(agentId, userId)).toBe('unresponsive');
  });

  it('resumes a deploy whose process died before the create, making exactly one droplet', async () => {
    const userId = await s.t.createUser();
    const agentId = await s.createAgent(userId);
    // What a crash right after recording leaves: a pending record and no droplet.
    const tag = deployTagFor(randomUUID());
    await s.t.authz.withUser(userId, (tx) =>
      tx.execute(sql`insert into agent_droplets (agent_id, user_id, name, region, size, image, deploy_tag, tags)
        values (${agentId}, ${userId}, 'crashed', 'nyc3', 's-1vcpu-1gb', 'ubuntu-24-04-x64', ${tag},
        array[${tag}, 'berth', ${`agent:${agentId}`}])`),
    );
    await s.environments.reconciler.reconcile();
    await settle(async () => (await statusOf(agentId, userId)) === 'active');
    await s.environments.reconciler.reconcile();
    expect(await s.client.listDropletsByTag(`agent:${agentId}`)).toHaveLength(1);
  });

  it('fails clearly without fallback keys when the user’s keys cannot be made ready', async () => {
    const bare = await openStack(engine, {
      existing: s.t,
      reuseEmulator: s.emulator,
    });
    const userId = await s.t.createUser();
    const agentId = await bare.createAgent(userId);
    s.emulator.admin.setErrorRate('sshKeys_get', 500, 1);
    s.emulator.admin.setErrorRate('sshKeys_create', 500, 1);
    try {
      await bare.environments.service.ensureToolEnvironmentReady(agentId, userId);
      await bare.environments.service.settled();
      const env = await bare.environments.service.getToolEnvironment(agentId, userId);
      expect(env?.status).toBe('error_creation');
      expect(env?.errorMessage).toMatch(/no fallback keys are configured/);
    } finally {
      await s.emulator.admin.reset();
      await bare.environments.close();
      await bare.bus.close();
    }
  });
});
