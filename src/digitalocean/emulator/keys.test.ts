import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sshKeygen, type TestEmulator, testEmulator } from '../../../test/support/do-spec.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-emu-keys-'));
const alice = sshKeygen(dir, 'alice');
const bob = sshKeygen(dir, 'bob');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let t: TestEmulator;
beforeEach(() => {
  t = testEmulator();
});
afterEach(async () => {
  // Every answer the emulator gave in the test must match DigitalOcean's description.
  expect(t.responseViolations()).toEqual([]);
  await t.emulator.close();
});

async function addKey(name: string, publicKey: string) {
  return t.api('POST', '/v2/account/keys', { body: { name, public_key: publicKey } });
}

describe('SSH keys on the emulated account', () => {
  it('creates a key with an MD5 fingerprint and finds it by id and by fingerprint', async () => {
    const created = await addKey('alice', alice.publicKey);
    expect(created.status).toBe(201);
    const key = created.body.ssh_key;
    expect(key).toMatchObject({ name: 'alice', public_key: alice.publicKey });
    expect(key.fingerprint).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    const byId = await t.api('GET', `/v2/account/keys/${key.id}`);
    const byFingerprint = await t.api('GET', `/v2/account/keys/${key.fingerprint}`);
    expect(byId.body.ssh_key).toEqual(key);
    expect(byFingerprint.body.ssh_key).toEqual(key);
    expect(t.requestViolations()).toEqual([]);
  });

  it('refuses the same key material again, whatever it is called', async () => {
    await addKey('alice', alice.publicKey);
    const again = await addKey(
      'a different name',
      `${alice.publicKey.split(' ').slice(0, 2).join(' ')} other-comment`,
    );
    expect(again.status).toBe(422);
    expect(again.body).toMatchObject({
      id: 'unprocessable_entity',
      message: 'SSH Key is already in use on your account',
    });
    expect(again.body.request_id).toBe(again.headers['x-request-id']);
  });

  it('allows two keys with the same name but different material', async () => {
    expect((await addKey('same', alice.publicKey)).status).toBe(201);
    expect((await addKey('same', bob.publicKey)).status).toBe(201);
  });

  it('refuses a public key that is not one', async () => {
    const bad = await addKey('x', 'ssh-ed25519 this-is-not-base64!');
    expect(bad.status).toBe(422);
    expect(bad.body.id).toBe('unprocessable_entity');
    const noName = await t.api('POST', '/v2/account/keys', { body: { public_key: alice.publicKey } });
    expect(noName.status).toBe(422);
  });

  it('lists keys a page at a time with links and a total', async () => {
    await addKey('alice', alice.publicKey);
    await addKey('bob', bob.publicKey);
    const first = await t.api('GET', '/v2/account/keys?per_page=1');
    expect(first.status).toBe(200);
    expect(first.body.ssh_keys.map((k: { name: string }) => k.name)).toEqual(['alice']);
    expect(first.body.meta).toEqual({ total: 2 });
    expect(first.body.links.pages.next).toMatch(/page=2/);
    const second = await t.api('GET', '/v2/account/keys?per_page=1&page=2');
    expect(second.body.ssh_keys.map((k: { name: string }) => k.name)).toEqual(['bob']);
    expect(Object.keys(second.body.links.pages).sort()).toEqual(['first', 'prev']);
    expect(t.requestViolations()).toEqual([]);
  });

  it('renames a key and deletes it, after which it is not found', async () => {
    const { body } = await addKey('alice', alice.publicKey);
    const renamed = await t.api('PUT', `/v2/account/keys/${body.ssh_key.fingerprint}`, {
      body: { name: 'renamed' },
    });
    expect(renamed.body.ssh_key.name).toBe('renamed');
    const deleted = await t.api('DELETE', `/v2/account/keys/${body.ssh_key.id}`);
    expect(deleted.status).toBe(204);
    const gone = await t.api('GET', `/v2/account/keys/${body.ssh_key.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({
      id: 'not_found',
      message: 'The resource you were accessing could not be found.',
    });
  });

  it('answers 404 for unknown ids and fingerprints on get, update and delete', async () => {
    for (const [method, body] of [['GET'], ['PUT', { name: 'x' }], ['DELETE']] as const) {
      const res = await t.api(method, '/v2/account/keys/12345', { body });
      expect(res.status).toBe(404);
    }
    expect(
      (await t.api('GET', '/v2/account/keys/aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99')).status,
    ).toBe(404);
  });

  it('answers 401 with DigitalOcean body for a wrong or missing token', async () => {
    for (const token of ['wrong-token', null]) {
      const res = await t.api('GET', '/v2/account/keys', { token });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ id: 'unauthorized', message: 'Unable to authenticate you' });
      expect(res.headers['ratelimit-limit']).toBe('5000');
    }
  });
});
