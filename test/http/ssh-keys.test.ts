import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { buildApi, call, tokenFor } from './support.ts';

const KEY_FIELDS = [
  'algorithm',
  'created_at',
  'digitalocean_key_id',
  'fingerprint_md5',
  'fingerprint_sha256',
  'id',
  'is_default',
  'name',
  'private_key_available',
  'public_key',
  'source',
];

function sshKeygenPublicKey(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-http-import-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'laptop', '-f', join(dir, 'id')]);
    return readFileSync(join(dir, 'id.pub'), 'utf8').trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(testEngines())('/api/ssh-keys on %s', (engine: EngineName) => {
  let t: TestDatabase;
  let api: ReturnType<typeof buildApi>;
  const user = async () => {
    const id = await t.createUser();
    return { id, token: await tokenFor(id) };
  };

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    api = buildApi(t);
  });
  afterAll(() => t.close());

  it('generates a key pair and shows the private key once, uncached', async () => {
    const alice = await user();
    const res = await call(api.app, 'POST', '/api/ssh-keys', {
      token: alice.token,
      body: { name: 'laptop' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('location')).toBe(`/api/ssh-keys/${res.json.key.id}`);
    expect(res.json.private_key).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(Object.keys(res.json.key).sort()).toEqual(KEY_FIELDS);
    expect(res.json.key).toMatchObject({ name: 'laptop', algorithm: 'ed25519', source: 'generated' });
    expect(res.json.key.private_key_available).toBe(false);
    const again = await call(api.app, 'GET', `/api/ssh-keys/${res.json.key.id}/private-key`, {
      token: alice.token,
    });
    expect(again.status).toBe(410);
    expect(again.json).toMatchObject({ type: 'https://berth.dev/problems/gone', status: 410 });
  });

  it('lists only the caller’s keys and never anything private', async () => {
    const alice = await user();
    const bob = await user();
    await call(api.app, 'POST', '/api/ssh-keys', {
      token: alice.token,
      body: { name: 'a', algorithm: 'ecdsa-p256' },
    });
    await call(api.app, 'POST', '/api/ssh-keys', { token: bob.token, body: { name: 'b' } });
    const res = await call(api.app, 'GET', '/api/ssh-keys', { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.json.keys.map((k: { name: string }) => k.name)).toEqual(['a']);
    expect(res.json.keys[0].algorithm).toBe('ecdsa-p256');
    expect(res.text).not.toMatch(/PRIVATE KEY|secret/i);
    expect(Object.keys(res.json.keys[0]).sort()).toEqual(KEY_FIELDS);
  });

  it('imports a public key made by ssh-keygen, and refuses it twice', async () => {
    const alice = await user();
    const publicKey = sshKeygenPublicKey();
    const res = await call(api.app, 'POST', '/api/ssh-keys/import', {
      token: alice.token,
      body: { name: 'laptop', public_key: publicKey },
    });
    expect(res.status).toBe(201);
    expect(res.json.key).toMatchObject({
      source: 'imported',
      public_key: publicKey,
      private_key_available: false,
    });
    expect(res.json).not.toHaveProperty('private_key');
    const twice = await call(api.app, 'POST', '/api/ssh-keys/import', {
      token: alice.token,
      body: { name: 'again', public_key: publicKey },
    });
    expect(twice.status).toBe(409);
    expect(twice.json.type).toBe('https://berth.dev/problems/conflict');
  });

  it('answers 422 for a private key pasted as a public key, without echoing it', async () => {
    const alice = await user();
    const pasted = generateKeyPair({ comment: 'oops' }).privateKey;
    const res = await call(api.app, 'POST', '/api/ssh-keys/import', {
      token: alice.token,
      body: { name: 'oops', public_key: pasted },
    });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.json).toMatchObject({
      type: 'https://berth.dev/problems/invalid-public-key',
      code: 'invalid_public_key',
    });
    expect(res.text).not.toContain(pasted.split('\n')[1]?.slice(0, 24));
  });

  it('answers 422 for a degenerate Ed25519 key (the identity point) and stores nothing', async () => {
    const alice = await user();
    // y = 1, the identity: under it a signature with R = identity and S = 0 verifies for
    // every message, and OpenSSL imports it without complaint.
    const identity = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const allZero = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    for (const publicKey of [identity, allZero]) {
      const res = await call(api.app, 'POST', '/api/ssh-keys/import', {
        token: alice.token,
        body: { name: 'degenerate', public_key: publicKey },
      });
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.json).toMatchObject({
        type: 'https://berth.dev/problems/invalid-public-key',
        status: 422,
        code: 'invalid_public_key',
        detail: expect.stringMatching(/^The Ed25519 key is not valid: its point is of small order\./),
      });
    }
    expect(await api.sshKeys.getUserSSHKeys(alice.id)).toEqual([]);
  });

  it('hands out a background-generated private key once as a download, also when requests race', async () => {
    const alice = await user();
    const [key] = await api.sshKeys.ensureUserHasSSHKeys(alice.id);
    const listed = await call(api.app, 'GET', `/api/ssh-keys/${key?.id}`, { token: alice.token });
    expect(listed.json.key).toMatchObject({ is_default: true, private_key_available: true });
    const path = `/api/ssh-keys/${key?.id}/private-key`;
    const results = await Promise.all(
      [1, 2, 3].map(() => call(api.app, 'GET', path, { token: alice.token })),
    );
    const won = results.filter((r) => r.status === 200);
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.status === 410)).toHaveLength(2);
    const file = won[0];
    expect(file?.text).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(file?.headers.get('content-disposition')).toBe('attachment; filename="berth-default-ed25519"');
    expect(file?.headers.get('cache-control')).toBe('no-store');
    expect(file?.headers.get('content-type')).toBe('application/x-pem-file');
    expect((await call(api.app, 'GET', path, { token: alice.token })).status).toBe(410);
  });

  it('deletes a key: 204, then it is gone', async () => {
    const alice = await user();
    const created = await call(api.app, 'POST', '/api/ssh-keys', {
      token: alice.token,
      body: { name: 'temp' },
    });
    const path = `/api/ssh-keys/${created.json.key.id}`;
    const res = await call(api.app, 'DELETE', path, { token: alice.token });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect((await call(api.app, 'GET', path, { token: alice.token })).status).toBe(404);
    expect((await call(api.app, 'DELETE', path, { token: alice.token })).status).toBe(404);
  });

  it('never lets the body choose the owner: a body naming one is refused, and nothing is made', async () => {
    const alice = await user();
    const bob = await user();
    const res = await call(api.app, 'POST', '/api/ssh-keys', {
      token: alice.token,
      body: { name: 'mine', user_id: bob.id, userId: bob.id, private_key: 'x' },
    });
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: { field: string }) => e.field)).toEqual([
      'user_id',
      'userId',
      'private_key',
    ]);
    expect(await api.sshKeys.getUserSSHKeys(bob.id)).toEqual([]);
    expect(await api.sshKeys.getUserSSHKeys(alice.id)).toEqual([]);
  });

  it('refuses an import sent to the generate route, saying where imports go, and makes no key', async () => {
    const alice = await user();
    const res = await call(api.app, 'POST', '/api/ssh-keys', {
      token: alice.token,
      body: {
        name: 'laptop',
        public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEBnspxhrSBFHxoJZ415sLXO1qWDqhHquricOOMYbDTw',
      },
    });
    expect(res.status).toBe(400);
    expect(res.json.detail).toBe(
      'public_key: This route generates a key pair; to import a public key, POST /api/ssh-keys/import.',
    );
    expect(res.text).not.toContain('AAAAC3Nza');
    expect(await api.sshKeys.getUserSSHKeys(alice.id)).toEqual([]);
  });

  it('refuses a private key sent along with an import, without echoing it', async () => {
    const alice = await user();
    const res = await call(api.app, 'POST', '/api/ssh-keys/import', {
      token: alice.token,
      body: {
        name: 'laptop',
        public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEBnspxhrSBFHxoJZ415sLXO1qWDqhHquricOOMYbDTw',
        private_key: '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-material\n',
      },
    });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([
      {
        location: 'body',
        field: 'private_key',
        message:
          'berth imports public keys only: send the public key line, and keep the private key to yourself.',
      },
    ]);
    expect(res.text).not.toContain('secret-material');
    expect(await api.sshKeys.getUserSSHKeys(alice.id)).toEqual([]);
  });

  it('refuses a bad name or algorithm with a 400 problem naming the field', async () => {
    const alice = await user();
    const blank = await call(api.app, 'POST', '/api/ssh-keys', { token: alice.token, body: { name: '   ' } });
    expect(blank.status).toBe(400);
    expect(blank.json.detail).toBe('A key needs a name.');
    const algorithm = await call(api.app, 'POST', '/api/ssh-keys', {
      token: alice.token,
      body: { name: 'x', algorithm: 'dsa' },
    });
    expect(algorithm.status).toBe(400);
    expect(algorithm.json.errors).toEqual([
      expect.objectContaining({ location: 'body', field: 'algorithm' }),
    ]);
  });
});
