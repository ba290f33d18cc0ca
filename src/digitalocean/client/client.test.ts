import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../domain/errors.ts';
import { tokenFromEnv } from './client.ts';
import { clientFor, fakeDroplet, type Stub, type StubCall, startStub } from './testing.ts';

let stub: Stub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

const FP = '3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa';
const PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq berth';
const KEY = { id: 512190, fingerprint: FP, name: 'berth-user-1', public_key: PUB };

function route(call: StubCall) {
  return `${call.method} ${call.path}`;
}

describe('ensureSshKey', () => {
  it('returns the key found by fingerprint without creating or listing', async () => {
    stub = await startStub(() => ({ status: 200, body: { ssh_key: KEY } }));
    const key = await clientFor(stub.url).ensureSshKey({ name: 'x', publicKey: PUB, fingerprintMd5: FP });
    expect(key).toEqual(KEY);
    expect(stub.calls.map(route)).toEqual([`GET /v2/account/keys/${FP}`]);
  });

  it('creates the key only after the fingerprint lookup answers 404', async () => {
    stub = await startStub((call) =>
      call.method === 'GET'
        ? {
            status: 404,
            body: { id: 'not_found', message: 'The resource you requested could not be found.' },
          }
        : { status: 201, body: { ssh_key: { ...KEY, name: (call.body as { name: string }).name } } },
    );
    const key = await clientFor(stub.url).ensureSshKey({
      name: 'berth-user-1',
      publicKey: PUB,
      fingerprintMd5: FP,
    });
    expect(key.id).toBe(512190);
    expect(stub.calls.map(route)).toEqual([`GET /v2/account/keys/${FP}`, 'POST /v2/account/keys']);
    expect(stub.calls[1]!.body).toEqual({ name: 'berth-user-1', public_key: PUB });
  });

  it('reads the 422 "already in use" as "exists" and fetches the key by fingerprint', async () => {
    let gets = 0;
    stub = await startStub((call) => {
      if (call.method === 'POST') {
        return {
          status: 422,
          body: { id: 'unprocessable_entity', message: 'SSH Key is already in use on your account' },
        };
      }
      // A concurrent registration lands between the first lookup and the create.
      return gets++ === 0
        ? { status: 404, body: { id: 'not_found', message: 'x' } }
        : { status: 200, body: { ssh_key: KEY } };
    });
    const key = await clientFor(stub.url).ensureSshKey({
      name: 'x',
      publicKey: PUB,
      fingerprintMd5: FP.toUpperCase(),
    });
    expect(key).toEqual(KEY);
    expect(stub.calls.map(route)).toEqual([
      `GET /v2/account/keys/${FP}`,
      'POST /v2/account/keys',
      `GET /v2/account/keys/${FP}`,
    ]);
    expect(stub.calls.some((c) => c.method === 'GET' && c.path === '/v2/account/keys')).toBe(false);
  });

  it('rejects a caller fingerprint that does not match the one DigitalOcean computed', async () => {
    stub = await startStub((call) =>
      call.method === 'GET'
        ? { status: 404, body: { id: 'not_found', message: 'x' } }
        : { status: 201, body: { ssh_key: { ...KEY, fingerprint: '00:11' } } },
    );
    await expect(
      clientFor(stub.url).ensureSshKey({ name: 'x', publicKey: PUB, fingerprintMd5: FP }),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });
});

describe('SSH keys and droplets', () => {
  it('sends the documented method, path and body for each key call', async () => {
    stub = await startStub((call) =>
      call.method === 'DELETE' ? { status: 204 } : { status: 200, body: { ssh_key: KEY } },
    );
    const client = clientFor(stub.url);
    await client.updateSshKeyName(FP, 'renamed');
    await expect(client.deleteSshKey(512190)).resolves.toBe(true);
    expect(stub.calls.map(route)).toEqual([`PUT /v2/account/keys/${FP}`, 'DELETE /v2/account/keys/512190']);
    expect(stub.calls[0]!.body).toEqual({ name: 'renamed' });
  });

  it('treats deleting a key or droplet that is already gone as done', async () => {
    stub = await startStub(() => ({ status: 404, body: { id: 'not_found', message: 'x' } }));
    const client = clientFor(stub.url);
    await expect(client.deleteSshKey(FP)).resolves.toBe(false);
    await expect(client.deleteDroplet(3164494)).resolves.toBe(false);
  });

  it('deletes droplets by deploy tag with the tag_name query', async () => {
    stub = await startStub(() => ({ status: 204 }));
    const tag = 'berth-deploy:6f1c2a9e-5b7d-4c1e-9a3f-0d2b8e7c4a11';
    await expect(clientFor(stub.url).deleteDropletsByTag(tag)).resolves.toBe(true);
    expect(stub.calls[0]!.method).toBe('DELETE');
    expect(stub.calls[0]!.query.get('tag_name')).toBe(tag);
  });

  it('refuses to delete droplets by any tag but a deploy tag, without sending a request', async () => {
    stub = await startStub(() => ({ status: 204 }));
    const client = clientFor(stub.url);
    for (const tag of [
      'berth',
      'user:42',
      'berth-deploy:',
      'berth-deploy:short',
      'berth-deploy:a b c d e f g h i j k',
    ]) {
      await expect(client.deleteDropletsByTag(tag)).rejects.toThrow(/not a deploy tag/);
    }
    expect(stub.calls).toEqual([]);
  });

  it('lists droplets by tag across every page, following next links on its own host only', async () => {
    const all = Array.from({ length: 5 }, (_, i) => fakeDroplet(100 + i, ['t']));
    stub = await startStub((call) => {
      const page = Number(call.query.get('page'));
      const perPage = 2;
      const items = all.slice((page - 1) * perPage, page * perPage);
      const next =
        page * perPage < all.length
          ? `https://api.digitalocean.com/v2/droplets?page=${page + 1}&per_page=2&tag_name=t`
          : undefined;
      return {
        status: 200,
        body: { droplets: items, links: next ? { pages: { next } } : {}, meta: { total: all.length } },
      };
    });
    const droplets = await clientFor(stub.url).listDropletsByTag('t');
    expect(droplets.map((d) => d.id)).toEqual([100, 101, 102, 103, 104]);
    expect(stub.calls.map((c) => c.query.get('page'))).toEqual(['1', '2', '3']);
    expect(stub.calls.every((c) => c.query.get('tag_name') === 't')).toBe(true);
  });

  it('gets droplets and actions by id', async () => {
    stub = await startStub((call) =>
      call.path.includes('actions')
        ? { status: 200, body: { action: { id: 36804636, status: 'completed' } } }
        : { status: 200, body: { droplet: fakeDroplet(3164494, []) } },
    );
    const client = clientFor(stub.url);
    expect((await client.getDroplet(3164494)).id).toBe(3164494);
    expect((await client.getDropletAction(3164494, 36804636)).status).toBe('completed');
    expect((await client.getAction(36804636)).id).toBe(36804636);
    expect(stub.calls.map(route)).toEqual([
      'GET /v2/droplets/3164494',
      'GET /v2/droplets/3164494/actions/36804636',
      'GET /v2/actions/36804636',
    ]);
  });
});

describe('tokenFromEnv', () => {
  it('reads DIGITALOCEAN_TOKEN and fails at once, without echoing anything, when it is unset', () => {
    expect(tokenFromEnv({ DIGITALOCEAN_TOKEN: 'abc' })()).toBe('abc');
    expect(() => tokenFromEnv({})).toThrow('DIGITALOCEAN_TOKEN is not set');
  });
});
