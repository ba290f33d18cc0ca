import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Authz } from '../../src/db/authz.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { eventually } from '../support/eventually.ts';
import { FakeKeyRegistry } from './fake-registry.ts';
import { buildOnboarding, keyRows, type Onboarding, onboardingJobs } from './harness.ts';

const job = (id: string) => ({ id, isFinalAttempt: false });

/** `inner`, naming every call made through it: each is a transaction, a one-trip read or a one-trip script. */
function counted(inner: Authz): { authz: Authz; calls: string[] } {
  const calls: string[] = [];
  const authz = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return value.apply(target, args);
      };
    },
  });
  return { authz, calls };
}

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
  const process = async (registry: FakeKeyRegistry, authz: Authz = t.authz) => {
    const o = buildOnboarding({ ...t, authz }, registry, { queue: { role: 'client' } });
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
    await eventually(async () => (await worker.queue.getJob(queued!.id))?.state === 'completed');
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

  it('does not ask DigitalOcean again for a key it registered after the caller read its keys', async () => {
    const registry = new FakeKeyRegistry();
    const o = await process(registry);
    const userId = await t.createUser();
    const stale = await o.sshKeys.ensureUserHasSSHKeys(userId);
    const [first] = await o.registrar.registerAll(userId, stale, 'deploy');
    // `stale` still says the key is not on DigitalOcean, as a list read before the
    // registration's record committed would.
    const [again] = await o.registrar.registerAll(userId, stale, 'background');
    expect(again?.digitaloceanKeyId).toBe(first?.digitaloceanKeyId);
    expect(registry.calls).toHaveLength(1);
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

  const auditOf = async (userId: string) =>
    (
      (await t.authz.asService('test: read audit', (tx) =>
        tx.execute(
          sql`select operation, outcome from ssh_key_audit_log where user_id = ${userId} order by created_at, id`,
        ),
      )) as unknown as { rows: { operation: string; outcome: string }[] }
    ).rows;

  it('makes a brand-new user ready in two one-trip scripts: the key, then its registration with onboarding', async () => {
    const registry = new FakeKeyRegistry();
    const { authz, calls } = counted(t.authz);
    const o = await process(registry, authz);
    const userId = randomUUID();
    await o.service.enhancedUserRegistration({ id: userId });
    calls.length = 0;
    const [registered] = await o.service.handleFirstTimeDeployment(userId);
    expect(calls).toEqual(['scriptAsUser', 'scriptAsService']);
    const [key] = await keyRows(t, userId);
    expect(key?.digitalocean_key_id).toBe(registered?.digitaloceanKeyId);
    expect((await o.service.checkKeyGenerationStatus(userId)).status).toBe('ready');
    expect(await auditOf(userId)).toEqual([
      { operation: 'key.default_created', outcome: 'success' },
      { operation: 'key.registered', outcome: 'success' },
    ]);
  });

  it('lets a first deploy go on once DigitalOcean holds the key, while its record commits', async () => {
    const registry = new FakeKeyRegistry();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held: Authz = {
      ...t.authz,
      scriptAsService: async (reason, statements) => {
        if (reason.startsWith('record a key registration')) await gate;
        return t.authz.scriptAsService(reason, statements);
      },
    };
    const o = await process(registry, held);
    const userId = randomUUID();
    await o.service.enhancedUserRegistration({ id: userId });
    const registration = await o.service.prepareFirstDeployment(userId);
    const [registered] = registration.keys;
    expect(registered?.digitaloceanKeyId).toEqual(expect.any(Number));
    expect((await keyRows(t, userId))[0]?.digitalocean_key_id).toBeNull();
    release();
    await registration.recorded;
    expect((await keyRows(t, userId))[0]?.digitalocean_key_id).toBe(registered?.digitaloceanKeyId);
    expect((await o.service.checkKeyGenerationStatus(userId)).status).toBe('ready');
  });

  it('leaves a key whose registration died before its record committed to the next deploy, which records it', async () => {
    const registry = new FakeKeyRegistry();
    // The script that records the registration runs its statements and then fails, so
    // nothing of it commits: as when the process dies before the script's commit.
    let died = false;
    const dying: Authz = {
      ...t.authz,
      scriptAsService: (reason, statements) => {
        if (registry.calls.length === 0 || died) return t.authz.scriptAsService(reason, statements);
        died = true;
        return t.authz.scriptAsService(reason, [...statements, sql`select 1/0`]);
      },
    };
    const crashed = await process(registry, dying);
    const userId = randomUUID();
    await crashed.service.enhancedUserRegistration({ id: userId });
    await expect(crashed.service.handleFirstTimeDeployment(userId)).rejects.toThrow(/division by zero/);
    expect(died).toBe(true);
    const [orphan] = await keyRows(t, userId);
    // On DigitalOcean, and nothing of its registration recorded: not its id, not its audit
    // row, not onboarding's `ready`.
    expect(registry.createdFor(orphan!.fingerprint_md5)).toHaveLength(1);
    expect(orphan?.digitalocean_key_id).toBeNull();
    expect((await crashed.service.checkKeyGenerationStatus(userId)).status).not.toBe('ready');
    expect((await auditOf(userId)).map((a) => a.operation)).toEqual(['key.default_created']);

    const next = await process(registry);
    const [registered] = await next.service.handleFirstTimeDeployment(userId);
    const [key] = await keyRows(t, userId);
    expect(key?.id).toBe(orphan?.id);
    expect(key?.digitalocean_key_id).toBe(registered?.digitaloceanKeyId);
    expect(registry.createdFor(key!.fingerprint_md5)).toHaveLength(1);
    expect((await next.service.checkKeyGenerationStatus(userId)).status).toBe('ready');
    expect(await auditOf(userId)).toEqual([
      { operation: 'key.default_created', outcome: 'success' },
      { operation: 'key.registered', outcome: 'success' },
    ]);
  });
});
