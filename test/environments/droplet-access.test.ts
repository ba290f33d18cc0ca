/**
 * The droplet-facing API, as a droplet's login check calls it: with the credential its
 * user_data carries, it reads its own environment's login keys as they are now, and
 * nothing else. Droplets here are the emulator's light ones (the credential is read from
 * the user_data the emulator received); real logins are in login-check.test.ts.
 */
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshKeyAuditLog } from '../../src/db/schema.ts';
import { AUTHORIZED_KEYS_PATH } from '../../src/domain/environments/login-check.ts';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { testEngines } from '../support/db.ts';
import { type Deployed, deployWithCredential, lookup } from '../support/droplet-access.ts';
import { openStack, type Stack } from '../support/environments.ts';

describe.each(testEngines())('the droplet API on %s', (engine) => {
  let s: Stack;
  let url: string;
  let alice: Deployed;
  let bob: Deployed;

  beforeAll(async () => {
    s = await openStack(engine, { dropletApi: { host: '127.0.0.1', refusalsPerMinute: 5 } });
    url = s.dropletApiUrl!;
    [alice, bob] = await Promise.all([deployWithCredential(s), deployWithCredential(s)]);
  }, 60_000);
  afterAll(() => s.close());

  it('gives each droplet a credential of its own and says its access is live', () => {
    expect(alice.credential).toMatch(/^bdc_[A-Za-z0-9_-]{43}$/);
    expect(bob.credential).not.toBe(alice.credential);
    expect(alice.env.loginAccess).toBe('live');
  });

  it('answers root and the agent’s login with the owner’s keys, any other login with none', async () => {
    for (const user of ['agent', 'root']) {
      const answer = await lookup(url, alice.credential, user);
      expect(answer).toMatchObject({ status: 200, body: `${alice.publicKey.trim()}\n` });
      expect(answer.headers.get('cache-control')).toBe('private, no-store');
    }
    expect(await lookup(url, alice.credential, 'postgres')).toMatchObject({ status: 200, body: '' });
    expect(await lookup(url, alice.credential, '../../etc')).toMatchObject({ status: 200, body: '' });
  });

  it('never gives one droplet’s credential another owner’s keys', async () => {
    expect((await lookup(url, alice.credential)).body).not.toContain(bob.publicKey.split(' ')[1]);
    expect((await lookup(url, bob.credential)).body).toBe(`${bob.publicKey.trim()}\n`);
  });

  it('answers a key imported after the deploy, and stops answering a deleted one at once', async () => {
    const added = generateKeyPair({ comment: 'second-laptop' });
    const imported = await s.sshKeys.importKey(alice.userId, { name: 'laptop', publicKey: added.publicKey });
    expect((await lookup(url, alice.credential)).body).toContain(added.publicKey.split(' ')[1]);
    await s.sshKeys.deleteUserSSHKey(alice.userId, imported.id);
    const after = await lookup(url, alice.credential);
    expect(after.body).not.toContain(added.publicKey.split(' ')[1]);
    expect(after.body).toContain(alice.publicKey.split(' ')[1]);
  });

  it('refuses a forged or missing credential with a bare 401 and audits it', async () => {
    const forged = `bdc_${'A'.repeat(43)}`;
    for (const credential of [forged, null, 'not-even-a-token']) {
      const answer = await lookup(url, credential, 'root');
      expect(answer.status).toBe(401);
      expect(answer.body).toBe('');
    }
    const rows = await s.t.authz.asService('test: read audit', (tx) =>
      tx.select().from(sshKeyAuditLog).where(eq(sshKeyAuditLog.operation, 'droplet.credential_refused')),
    );
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows[0]).toMatchObject({ userId: null, outcome: 'failure', actor: 'droplet' });
    expect(JSON.stringify(rows)).not.toContain(forged);
  });

  it('refuses any write', async () => {
    const response = await fetch(`${url}${AUTHORIZED_KEYS_PATH}?user=root`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.credential}` },
      body: 'ssh-ed25519 AAAA',
    });
    expect(response.status).toBe(405);
    expect(
      (await fetch(`${url}/api/ssh-keys`, { headers: { authorization: `Bearer ${alice.credential}` } }))
        .status,
    ).toBe(404);
  });

  it('refuses a torn-down droplet’s credential', async () => {
    expect((await lookup(url, bob.credential)).status).toBe(200);
    await s.environments.service.teardownToolEnvironment(bob.agentId, bob.userId);
    await s.environments.service.settled();
    expect(await lookup(url, bob.credential)).toMatchObject({ status: 401, body: '' });
    // Stored as a hash only.
    const stored = await s.t.authz.asService('test: read credentials', (tx) =>
      tx.execute(sql`select secret_hash from droplet_credentials`),
    );
    expect(JSON.stringify(stored)).not.toContain(bob.credential);
  });

  it('turns a source away after repeated refusals, even with a good credential', async () => {
    for (let i = 0; i < 6; i++) await lookup(url, `bdc_${'B'.repeat(43)}`);
    const answer = await lookup(url, alice.credential);
    expect(answer.status).toBe(429);
    expect(answer.headers.get('retry-after')).toBe('60');
  });
});

/**
 * Two berth processes on one PostgreSQL, as far as the key-change bus is concerned: each
 * stack has its own LISTEN connection and caches. A key deleted through one is never in
 * the other's answer once the DELETE has returned, even with the other's caches warm.
 */
describe.runIf(testEngines().includes('postgres'))('the droplet API over two processes', () => {
  let a: Stack;
  let b: Stack;
  let owner: Deployed;

  beforeAll(async () => {
    a = await openStack('postgres', { dropletApi: { host: '127.0.0.1' } });
    b = await openStack('postgres', {
      existing: a.t,
      reuseEmulator: a.emulator,
      instanceId: 'b',
      dropletApi: { host: '127.0.0.1' },
    });
    owner = await deployWithCredential(a);
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('never answers a key through one process after its DELETE returned through the other', async () => {
    const rounds = 150;
    let stale = 0;
    for (let i = 0; i < rounds; i++) {
      const pair = generateKeyPair({ comment: `round-${i}` });
      const body = pair.publicKey.split(' ')[1]!;
      const key = await a.sshKeys.importKey(owner.userId, { name: `round ${i}`, publicKey: pair.publicKey });
      // B answers the new key (its caches warm with it), then A deletes it.
      expect((await lookup(b.dropletApiUrl!, owner.credential)).body).toContain(body);
      await a.sshKeys.deleteUserSSHKey(owner.userId, key.id);
      if ((await lookup(b.dropletApiUrl!, owner.credential)).body.includes(body)) stale++;
    }
    expect(stale).toBe(0);
    expect((await lookup(b.dropletApiUrl!, owner.credential)).body).toContain(owner.publicKey.split(' ')[1]);
  }, 120_000);

  it('refuses a credential through one process once the other revoked it', async () => {
    const other = await deployWithCredential(a);
    expect((await lookup(b.dropletApiUrl!, other.credential)).status).toBe(200);
    await a.dropletAccess.revoke(other.env.id, other.userId);
    expect((await lookup(b.dropletApiUrl!, other.credential)).status).toBe(401);
  });
});
