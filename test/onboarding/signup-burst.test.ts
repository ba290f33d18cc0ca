/**
 * A burst of sign-ups against the DigitalOcean rate budget that every berth process
 * shares: the onboarding jobs register new users' keys until they reach the share of
 * the hour kept for deploys, and stop there, while a deploy and a teardown still get
 * their calls. Real client, real emulator, the database-backed budget.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployTagFor } from '../../src/digitalocean/client/deploy-tag.ts';
import { DigitalOceanClient } from '../../src/digitalocean/client/index.ts';
import { createEmulator, type Emulator } from '../../src/digitalocean/emulator/index.ts';
import { DigitalOceanRateLimitedError } from '../../src/digitalocean/errors.ts';
import { PgRateBudget } from '../../src/digitalocean/pg-rate-budget.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { buildOnboarding, keyRows, type Onboarding } from './harness.ts';

const TOKEN = 'signup-burst-token';

describe.each(testEngines())('a sign-up burst on %s', (engine: EngineName) => {
  let t: TestDatabase;
  let emulator: Emulator;
  let client: DigitalOceanClient;
  let o: Onboarding;
  beforeAll(async () => {
    t = await openTestDatabase(engine);
    emulator = createEmulator({ token: TOKEN, activeAfterMs: 0, sshPort: 0 });
    const { url } = await emulator.listen(0);
    client = new DigitalOceanClient({
      baseUrl: url,
      token: () => TOKEN,
      // Ten calls an hour, 30 % of them kept for deploys: onboarding may take seven.
      rateBudget: new PgRateBudget({
        authz: t.authz,
        token: TOKEN,
        limits: { perHour: 10, perMinute: 50, deployReserve: 0, onboardingReservePercent: 30 },
      }),
      // A call that finds no room fails soon, instead of after the two minutes berth waits.
      maxBudgetWaitMs: 500,
    });
    o = buildOnboarding(t, client);
  });
  afterAll(async () => {
    await o?.queue.close();
    await emulator?.close();
    await t?.close();
  });

  it('stops registering keys at the deploys’ reserve, and deploys still get their calls', async () => {
    const users = await Promise.all(Array.from({ length: 10 }, () => t.createUser()));
    const runs = await Promise.allSettled(
      users.map((userId) => o.service.runOnboarding(userId, { id: randomUUID(), isFinalAttempt: false })),
    );
    expect(runs.filter((r) => r.status === 'fulfilled')).toHaveLength(7);
    const refused = runs.flatMap((r, i) =>
      r.status === 'rejected' ? [{ userId: users[i]!, reason: r.reason }] : [],
    );
    expect(refused).toHaveLength(3);
    for (const { reason } of refused) {
      expect(reason).toBeInstanceOf(DigitalOceanRateLimitedError);
      expect((reason as DigitalOceanRateLimitedError).source).toBe('budget');
    }
    expect(emulator.state.keys.size).toBe(7);

    // A refused user's first deploy registers their key itself, at deploy priority...
    const first = refused[0]!.userId;
    const keys = await o.sshKeys.ensureUserHasSSHKeys(first);
    const [registered] = await o.registrar.registerAll(first, keys, 'deploy');
    expect((await keyRows(t, first))[0]?.digitalocean_key_id).toBe(registered?.digitaloceanKeyId);
    // ...creates its droplet, and a teardown removes another: the hour's last calls.
    const made = await client.createDroplet(
      {
        name: 'after-the-burst',
        region: 'nyc3',
        size: 's-1vcpu-1gb',
        image: 'ubuntu-24-04-x64',
        ssh_keys: [registered!.digitaloceanKeyId],
        tags: [deployTagFor(randomUUID()), 'berth'],
      },
      { priority: 'deploy', freshTag: true },
    );
    expect(await client.deleteDroplet(made.droplet.id, { priority: 'deploy' })).toBe(true);
  });
});
