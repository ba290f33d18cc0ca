/**
 * Two berth installations, each with its own database, on one DigitalOcean account (one
 * emulator, one token): staging and production, say. Each reconciler looks only at its
 * own installation's droplets, and a droplet from before installation ids (tagged only
 * `berth` and a deploy tag) is destroyed by nobody who cannot claim it.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployTagFor } from '../../src/digitalocean/client/deploy-tag.ts';
import { installationTagFor } from '../../src/services/environments/ports.ts';
import { readInstallation } from '../../src/store/installation.ts';
import { testEngines } from '../support/db.ts';
import { eventually, openStack, type Stack } from '../support/environments.ts';

const droplet = { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' };

describe.each(testEngines())('two installations on one DigitalOcean account (%s)', (engine) => {
  let a: Stack;
  let b: Stack;
  beforeAll(async () => {
    a = await openStack(engine);
    b = await openStack(engine, { reuseEmulator: a.emulator });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const deploy = async (s: Stack) => {
    const userId = await s.t.createUser();
    const agentId = await s.createAgent(userId);
    await s.environments.service.ensureToolEnvironmentReady(agentId, userId);
    const env = await eventually(async () => {
      const e = await s.environments.service.getToolEnvironment(agentId, userId);
      return e?.status === 'active' ? e : null;
    });
    return { userId, agentId, env };
  };
  const exists = async (s: Stack, id: number) =>
    (await s.client.listDropletsByTag('berth')).some((d) => d.id === id);

  /** What a berth from before installation ids left: a record and its droplet, tagged the old way. */
  const legacyDeploy = async (s: Stack) => {
    const userId = await s.t.createUser();
    const agentId = await s.createAgent(userId);
    const tag = deployTagFor(randomUUID());
    const made = await s.client.createDroplet({ ...droplet, name: 'legacy', tags: [tag, 'berth'] });
    await s.t.authz.asService('test: a record from before installation ids', (tx) =>
      tx.execute(sql`insert into agent_droplets (agent_id, user_id, status, droplet_id, name, region, size,
        image, deploy_tag, tags) values (${agentId}, ${userId}, 'active', ${made.droplet.id}, 'legacy',
        'nyc3', 's-1vcpu-1gb', 'ubuntu-24-04-x64', ${tag}, array[${tag}, 'berth'])`),
    );
    return { userId, agentId, dropletId: made.droplet.id };
  };

  it('gives each database its own installation id, the same on every read', async () => {
    const read = (s: Stack) => s.t.authz.asService('test: installation id', readInstallation);
    const [first, again, other] = await Promise.all([read(a), read(a), read(b)]);
    expect(first).toEqual({ id: again.id, created: false });
    expect(other.id).not.toBe(first.id);
    expect(a.installationTag).toBe(installationTagFor(first.id));
    expect(a.installationTag).toMatch(/^berth-install:[0-9a-f-]{36}$/);
  });

  it('keeps a deploy of one installation through the other’s reconcile', async () => {
    const { userId, agentId, env } = await deploy(a);
    const [made] = await a.client.listDropletsByTag(`agent:${agentId}`);
    expect(made?.tags).toContain(a.installationTag);
    const report = await b.environments.reconciler.reconcile();
    expect(report.destroyed).toBe(0);
    expect(await exists(a, env.dropletId!)).toBe(true);
    await a.environments.reconciler.reconcile();
    expect(await a.environments.service.getToolEnvironment(agentId, userId)).toMatchObject({
      status: 'active',
      dropletId: env.dropletId,
    });
  });

  it('still destroys its own orphans, and only its own', async () => {
    const orphan = async (s: Stack) =>
      (
        await s.client.createDroplet({
          ...droplet,
          name: 'orphan',
          tags: [deployTagFor(randomUUID()), 'berth', s.installationTag],
        })
      ).droplet.id;
    const [ofA, ofB] = [await orphan(a), await orphan(b)];
    const report = await a.environments.reconciler.reconcile();
    expect(report.destroyed).toBe(1);
    expect(await exists(a, ofA)).toBe(false);
    expect(await exists(a, ofB)).toBe(true);
    await b.environments.reconciler.reconcile();
    expect(await exists(a, ofB)).toBe(false);
  });

  it('leaves a droplet from before installation ids to whoever holds its record', async () => {
    const ofA = await legacyDeploy(a);
    // B has an old record of its own, so it looks at the untagged droplets too.
    const ofB = await legacyDeploy(b);
    const unclaimed = (
      await a.client.createDroplet({
        ...droplet,
        name: 'unclaimed',
        tags: [deployTagFor(randomUUID()), 'berth'],
      })
    ).droplet.id;
    for (const s of [b, a, b]) {
      const report = await s.environments.reconciler.reconcile();
      expect(report.destroyed).toBe(0);
      expect(report.unresponsive).toBe(0);
    }
    for (const id of [ofA.dropletId, ofB.dropletId, unclaimed]) expect(await exists(a, id)).toBe(true);
    expect((await a.environments.service.getToolEnvironment(ofA.agentId, ofA.userId))?.status).toBe('active');
    // Its owner can still tear it down.
    await a.environments.service.teardownToolEnvironment(ofA.agentId, ofA.userId);
    await a.environments.service.settled();
    expect(await exists(a, ofA.dropletId)).toBe(false);
    await a.client.deleteDroplet(unclaimed);
  });

  it('tears down by deploy tag only what this installation made', async () => {
    // A record with no droplet id is torn down by its deploy tag. A droplet with that tag
    // and another installation's tag is what a copy of this database running beside it
    // under a new id would have made: it stays.
    const userId = await a.t.createUser();
    const agentId = await a.createAgent(userId);
    const tag = deployTagFor(randomUUID());
    await a.t.authz.asService('test: a record whose create was never recorded', (tx) =>
      tx.execute(sql`insert into agent_droplets (agent_id, user_id, status, name, region, size, image,
        deploy_tag, tags) values (${agentId}, ${userId}, 'error_creation', 'lost', 'nyc3',
        's-1vcpu-1gb', 'ubuntu-24-04-x64', ${tag}, array[${tag}, 'berth'])`),
    );
    const mine = (
      await a.client.createDroplet({ ...droplet, name: 'mine', tags: [tag, 'berth', a.installationTag] })
    ).droplet.id;
    const theirs = (
      await a.client.createDroplet(
        { ...droplet, name: 'theirs', tags: [tag, 'berth', b.installationTag] },
        // Not adopting `mine`, which the client would find by the tag before posting.
        { freshTag: true },
      )
    ).droplet.id;
    expect(theirs).not.toBe(mine);
    await a.environments.service.teardownToolEnvironment(agentId, userId);
    await a.environments.service.settled();
    expect(await exists(a, mine)).toBe(false);
    expect(await exists(a, theirs)).toBe(true);
    expect((await a.environments.service.getToolEnvironment(agentId, userId)) ?? null).toBeNull();
    await a.client.deleteDroplet(theirs);
  });
});
