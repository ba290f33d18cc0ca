import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../jobs/helpers.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { FakeKeyRegistry } from './fake-registry.ts';
import { buildOnboarding, keyRows, type Onboarding, onboardingJobs } from './harness.ts';

const job = (id: string) => ({ id, isFinalAttempt: false });

describe.each(testEngines())('first deploy and the onboarding job on %s', (engine: EngineName) => {
  let t: TestDatabase;
  const built: Onboarding[] = [];

  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterEach(async () => {
    await Promise.all(built.splice(0).map((o) => o.queue.close()));
  });
  afterAll(() => t.close());

  /** One berth process: its own registrar (and so its own in-flight registrations). */
  const process = async (registry: FakeKeyRegistry) => {
    const o = buildOnboarding(t, registry, { queue: { role: 'client' } });
    built.push(o);
    await o.queue.start();
    return o;
  };

  it('does the missing steps inline at deploy priority, and the job then has nothing left to do', async () => {
    const registry = new FakeKeyRegistry();
    const o = await process(registry);
    const userId = randomUUID();
    await o.service.enhancedUserRegistration({ id: userId });
    const registered = await o.service.handleFirstTimeDeployment(userId);
    expect(registered).toHaveLength(1);
    expect((await o.service.checkKeyGenerationStatus(userId)).status).toBe('ready');
    const worker = buildOnboarding(t, registry);
    built.push(worker);
    await worker.queue.start();
    const [queued] = await onboardingJobs(t, userId);
    await waitFor(async () => (await worker.queue.getJob(queued!.id))?.state === 'completed');
    const keys = await keyRows(t, userId);
    expect(keys).toHaveLength(1);
    expect(registry.callsFor(keys[0]!.fingerprint_md5)).toEqual([
      { fingerprint: keys[0]!.fingerprint_md5, priority: 'deploy' },
    ]);
    expect(keys[0]!.digitalocean_key_id).toBe(registered[0]!.digitaloceanKeyId);
  });

  it('costs no DigitalOcean call once onboarding is done', async () => {
    const registry = new FakeKeyRegistry();
    const o = await process(registry);
    const userId = randomUUID();
    await o.service.enhancedUserRegistration({ id: userId });
    await o.service.runOnboarding(userId, job('j'));
    const before = registry.calls.length;
    const registered = await o.service.handleFirstTimeDeployment(userId);
    expect(registry.calls.length).toBe(before);
    expect(registered[0]?.digitaloceanKeyId).toEqual(expect.any(Number));
  });

  it('makes one default key and one registration when the job and a deploy race in one process', async () => {
    // DigitalOcean takes 30 ms per call, so the two overlap whichever starts first.
    const registry = new FakeKeyRegistry(30);
    const o = await process(registry);
    const users = Array.from({ length: 12 }, () => randomUUID());
    for (const id of users) await o.service.enhancedUserRegistration({ id });
    await Promise.all(
      users.map(async (userId, i) => {
        const jobRun = (): Promise<unknown> => o.service.runOnboarding(userId, job(`race-${i}`));
        const deploy = (): Promise<unknown> => o.service.handleFirstTimeDeployment(userId);
        // Alternate who starts first, and let some start a few milliseconds apart.
        const [first, second] = i % 2 ? [jobRun, deploy] : [deploy, jobRun];
        const delay = new Promise((resolve) => setTimeout(resolve, i % 3 === 0 ? 0 : i * 2));
        await Promise.all([first(), delay.then(second)]);
      }),
    );
    for (const userId of users) {
      const keys = await keyRows(t, userId);
      expect(keys).toHaveLength(1);
      expect(keys[0]?.is_default).toBe(true);
      expect(registry.callsFor(keys[0]!.fingerprint_md5)).toHaveLength(1);
      expect(registry.createdFor(keys[0]!.fingerprint_md5)).toHaveLength(1);
      expect((await o.service.checkKeyGenerationStatus(userId)).status).toBe('ready');
    }
  });

  it('makes one default key and one DigitalOcean key when the job and a deploy race on two processes', async () => {
    const registry = new FakeKeyRegistry(30);
    const a = await process(registry);
    const b = await process(registry);
    const users = Array.from({ length: 8 }, () => randomUUID());
    for (const id of users) await a.service.enhancedUserRegistration({ id });
    const outcomes = await Promise.all(
      users.map((userId, i) =>
        Promise.all([
          a.service.runOnboarding(userId, job(`a-${i}`)),
          b.service.handleFirstTimeDeployment(userId),
        ]),
      ),
    );
    for (const [i, userId] of users.entries()) {
      const keys = await keyRows(t, userId);
      expect(keys).toHaveLength(1);
      // DigitalOcean holds the key once; both processes agree on its id.
      expect(registry.createdFor(keys[0]!.fingerprint_md5)).toHaveLength(1);
      expect(outcomes[i]?.[1][0]?.digitaloceanKeyId).toBe(keys[0]?.digitalocean_key_id);
      // Across processes nothing shares a flight: at most one call each, never more.
      expect(registry.callsFor(keys[0]!.fingerprint_md5).length).toBeLessThanOrEqual(2);
      expect((await a.service.checkKeyGenerationStatus(userId)).status).toBe('ready');
    }
  });
});
