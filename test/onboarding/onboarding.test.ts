import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DigitalOceanUnavailableError } from '../../src/digitalocean/errors.ts';
import { InvalidInputError } from '../../src/domain/errors.ts';
import { UserOnboardingService } from '../../src/services/onboarding-service.ts';
import { silent } from '../jobs/helpers.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { eventually } from '../support/eventually.ts';
import { FakeKeyRegistry } from './fake-registry.ts';
import { buildOnboarding, keyRows, type Onboarding, onboardingJobs } from './harness.ts';

describe.each(testEngines())('onboarding on %s', (engine: EngineName) => {
  let t: TestDatabase;
  const started: Onboarding[] = [];

  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((o) => o.queue.close()));
  });
  afterAll(() => t.close());

  const onboarding = async (
    registry: FakeKeyRegistry,
    options: Parameters<typeof buildOnboarding>[2] = {},
  ) => {
    const o = buildOnboarding(t, registry, options);
    started.push(o);
    await o.queue.start();
    return o;
  };
  const statusOf = (o: Onboarding, userId: string) => o.service.checkKeyGenerationStatus(userId);

  it('registers a user and, in the background, creates and registers their default key once', async () => {
    const registry = new FakeKeyRegistry();
    const o = await onboarding(registry);
    const userId = randomUUID();
    expect(await o.service.enhancedUserRegistration({ id: userId, email: `${userId}@example.test` })).toEqual(
      {
        created: true,
      },
    );
    const ready = await eventually(async () => {
      const s = await statusOf(o, userId);
      return s.status === 'ready' ? s : null;
    });
    const keys = await keyRows(t, userId);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ is_default: true, id: ready.keyId });
    expect(keys[0]?.digitalocean_key_id).toEqual(expect.any(Number));
    expect(registry.createdFor(keys[0]!.fingerprint_md5)).toEqual([
      { fingerprint: keys[0]!.fingerprint_md5, priority: 'onboarding' },
    ]);
    expect(ready.error).toBeNull();
  });

  it('enqueues one job however often, and however concurrently, a user is registered', async () => {
    const o = await onboarding(new FakeKeyRegistry(), { queue: { role: 'client' } });
    const userId = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => o.service.enhancedUserRegistration({ id: userId })),
    );
    await o.service.enhancedUserRegistration({ id: userId });
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await onboardingJobs(t, userId)).toHaveLength(1);
    expect((await statusOf(o, userId)).status).toBe('pending');
  });

  it('onboards a user whose row another path wrote first (an identity provider)', async () => {
    const o = await onboarding(new FakeKeyRegistry(), { queue: { role: 'client' } });
    const userId = await t.createUser();
    expect(await o.service.enhancedUserRegistration({ id: userId })).toEqual({ created: false });
    expect(await onboardingJobs(t, userId)).toHaveLength(1);
  });

  it('writes neither the user nor the onboarding record when the job cannot be enqueued', async () => {
    const o = buildOnboarding(t, new FakeKeyRegistry());
    const broken = new UserOnboardingService({
      authz: t.authz,
      sshKeys: o.sshKeys,
      registrar: o.registrar,
      queue: {
        sendInTransaction: async () => {
          throw new Error('the queue is unavailable');
        },
      },
      logger: silent,
    });
    const userId = randomUUID();
    await expect(broken.enhancedUserRegistration({ id: userId })).rejects.toThrow('the queue is unavailable');
    const left = await t.authz.asService('test: look for the user', (tx) =>
      tx.execute(sql`select (select count(*) from auth.users where id = ${userId})::int as users,
                            (select count(*) from user_onboarding where user_id = ${userId})::int as records`),
    );
    expect((left as unknown as { rows: unknown[] }).rows[0]).toEqual({ users: 0, records: 0 });
  });

  it('refuses a user id that is not a UUID', async () => {
    const o = await onboarding(new FakeKeyRegistry(), { queue: { role: 'client' } });
    await expect(o.service.enhancedUserRegistration({ id: 'alice' })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });

  it('shows a user their own onboarding only', async () => {
    const o = await onboarding(new FakeKeyRegistry(), { queue: { role: 'client' } });
    const alice = randomUUID();
    const bob = randomUUID();
    await o.service.enhancedUserRegistration({ id: alice });
    await o.service.enhancedUserRegistration({ id: bob });
    await t.authz.asService('test: fail alice', (tx) =>
      tx.execute(
        sql`update user_onboarding set status = 'failed', error = 'alice only' where user_id = ${alice}`,
      ),
    );
    const seenByBob = await t.authz.withUser(bob, (tx) =>
      tx.execute(sql`select user_id from user_onboarding`),
    );
    expect((seenByBob as unknown as { rows: { user_id: string }[] }).rows).toEqual([{ user_id: bob }]);
    expect(await statusOf(o, bob)).toMatchObject({ status: 'pending', error: null, keyId: null });
    expect(await statusOf(o, alice)).toMatchObject({ status: 'failed', error: 'alice only' });
  });

  it('after the last retry marks onboarding failed with a reason the user can act on; a retry recovers it', async () => {
    const registry = new FakeKeyRegistry();
    registry.failWith = () =>
      new DigitalOceanUnavailableError({ method: 'GET', path: '/v2/account/keys/x' }, 'server_error', '503');
    const o = await onboarding(registry, {
      job: { retryLimit: 1, retryDelaySeconds: 0, retryBackoff: false },
    });
    const userId = randomUUID();
    await o.service.enhancedUserRegistration({ id: userId });
    const failed = await eventually(async () => {
      const s = await statusOf(o, userId);
      return s.status === 'failed' ? s : null;
    });
    expect(failed.error).toMatch(/DigitalOcean was busy or unreachable/);
    expect(failed.error).toMatch(/first deploy will try again/);
    expect(failed.keyId).not.toBeNull(); // the key was made; only its registration failed
    // The job marks onboarding failed just before the queue marks the job so.
    const job = await eventually(async () => {
      const all = await o.queue.failed({ queue: 'onboard-user' });
      return all.find((j) => (j.data as { userId: string }).userId === userId);
    });
    expect(job).toMatchObject({ attempts: 2 });
    registry.failWith = null;
    await o.queue.retry(job.id);
    await eventually(async () => (await statusOf(o, userId)).status === 'ready');
    expect(await keyRows(t, userId)).toHaveLength(1);
  });

  it('keeps a retrying user in progress, with no error, until the last attempt', async () => {
    const registry = new FakeKeyRegistry();
    registry.failWith = () => new Error('boom');
    const o = await onboarding(registry, { queue: { role: 'client' } });
    const userId = randomUUID();
    await o.service.enhancedUserRegistration({ id: userId });
    await expect(o.service.runOnboarding(userId, { id: 'run-1', isFinalAttempt: false })).rejects.toThrow(
      'boom',
    );
    expect(await statusOf(o, userId)).toMatchObject({ status: 'registering', error: null });
    await expect(o.service.runOnboarding(userId, { id: 'run-2', isFinalAttempt: true })).rejects.toThrow(
      'boom',
    );
    expect(await statusOf(o, userId)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/failed unexpectedly/),
    });
    const attempts = await t.authz.asService('test: attempts', (tx) =>
      tx.execute(sql`select attempts from user_onboarding where user_id = ${userId}`),
    );
    expect((attempts as unknown as { rows: unknown[] }).rows).toEqual([{ attempts: 2 }]);
  });

  it('finishes quietly when the user was deleted before the job ran', async () => {
    const o = await onboarding(new FakeKeyRegistry(), { queue: { role: 'client' } });
    const userId = await t.createUser();
    await o.service.enhancedUserRegistration({ id: userId });
    // The identity provider deletes users, as the table's owner; berth's roles cannot.
    await t.db.execute(sql`delete from auth.users where id = ${userId}`);
    expect(await o.service.runOnboarding(userId, { id: 'run', isFinalAttempt: false })).toEqual({
      status: 'user_deleted',
    });
  });
});
