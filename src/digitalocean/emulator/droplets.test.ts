import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sshKeygen, type TestEmulator, testEmulator } from '../../../test/support/do-spec.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-emu-droplets-'));
const alice = sshKeygen(dir, 'alice');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let now = Date.UTC(2026, 0, 1);
let t: TestEmulator;
beforeEach(() => {
  now = Date.UTC(2026, 0, 1);
  t = testEmulator({ clock: () => now, activeAfterMs: 3000 });
});
afterEach(async () => {
  expect(t.responseViolations()).toEqual([]);
  await t.emulator.close();
});

const base = { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' };
const create = (body: Record<string, unknown>) =>
  t.api('POST', '/v2/droplets', { body: { ...base, ...body } });
const publicIp = (droplet: { networks: { v4: Array<{ type: string; ip_address: string }> } }) =>
  droplet.networks.v4.find((n) => n.type === 'public')?.ip_address;

describe('creating droplets', () => {
  it('accepts a create with 202, a new droplet, and a link to its create action', async () => {
    const res = await create({ name: 'web-1', tags: ['berth', 'deploy:abc_1'] });
    expect(res.status).toBe(202);
    expect(res.body.droplet).toMatchObject({ name: 'web-1', status: 'new', tags: ['berth', 'deploy:abc_1'] });
    expect(res.body.droplet.networks).toEqual({ v4: [], v6: [] });
    const [link] = res.body.links.actions;
    expect(link).toMatchObject({ rel: 'create', href: `http://emulator.test/v2/actions/${link.id}` });
    const action = await t.api('GET', `/v2/actions/${link.id}`);
    expect(action.body.action).toMatchObject({
      type: 'create',
      status: 'in-progress',
      resource_id: res.body.droplet.id,
    });
    expect(t.requestViolations()).toEqual([]);
  });

  it('turns active after activeAfterMs on the emulator clock, with a loopback public address', async () => {
    const { body } = await create({ name: 'web-1' });
    now += 2999;
    expect((await t.api('GET', `/v2/droplets/${body.droplet.id}`)).body.droplet.status).toBe('new');
    now += 1;
    const active = (await t.api('GET', `/v2/droplets/${body.droplet.id}`)).body.droplet;
    expect(active.status).toBe('active');
    expect(publicIp(active)).toBe('127.0.0.2');
    const action = await t.api('GET', `/v2/actions/${body.links.actions[0].id}`);
    expect(action.body.action.status).toBe('completed');
  });

  it('creates a batch from names, each with its own address', async () => {
    const res = await create({ names: ['a-1', 'a-2'] });
    expect(res.status).toBe(202);
    expect(res.body.droplets.map((d: { name: string }) => d.name)).toEqual(['a-1', 'a-2']);
    expect(res.body.links.actions).toHaveLength(2);
    now += 3000;
    await t.emulator.advance();
    const ips = [...t.emulator.state.droplets.values()].map((d) => d.address);
    expect(new Set(ips).size).toBe(2);
  });

  it('accepts ssh_keys given as ids or fingerprints of keys on the account', async () => {
    const key = (
      await t.api('POST', '/v2/account/keys', { body: { name: 'alice', public_key: alice.publicKey } })
    ).body.ssh_key;
    expect((await create({ name: 'by-id', ssh_keys: [key.id] })).status).toBe(202);
    expect((await create({ name: 'by-fp', ssh_keys: [key.fingerprint] })).status).toBe(202);
    const stored = [...t.emulator.state.droplets.values()];
    expect(stored.map((d) => d.authorizedKeys)).toEqual([[alice.publicKey], [alice.publicKey]]);
  });

  it('refuses unknown key identifiers with DigitalOcean message and creates nothing', async () => {
    const res = await create({
      name: 'web-1',
      ssh_keys: [987654, 'aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99'],
    });
    expect(res.status).toBe(422);
    expect(res.body.message).toBe(
      '987654, aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99 are invalid key identifiers for Droplet creation.',
    );
    expect(t.emulator.state.droplets.size).toBe(0);
  });

  it.each([
    ['a name with an underscore', { name: 'web_1' }, /valid hostname characters/],
    ['a name over 255 characters', { name: 'a'.repeat(256) }, /too long/],
    ['neither name nor names', {}, /Name is required/],
    ['more than ten names', { names: Array.from({ length: 11 }, (_, i) => `n${i}`) }, /up to 10/],
    ['a tag with a space', { name: 'w', tags: ['bad tag'] }, /Tag "bad tag" is invalid/],
    ['a tag over 255 characters', { name: 'w', tags: ['t'.repeat(256)] }, /is invalid/],
    ['user_data over 64 KiB', { name: 'w', user_data: 'x'.repeat(64 * 1024 + 1) }, /User data is too long/],
    ['an unknown size', { name: 'w', size: 'huge' }, /invalid size/],
    ['no image', { name: 'w', image: undefined }, /invalid image/],
    ['an unknown region', { name: 'w', region: 'mars1' }, /invalid region/],
  ])('refuses %s with 422', async (_label, body, message) => {
    const res = await create(body);
    expect(res.status).toBe(422);
    expect(res.body.id).toBe('unprocessable_entity');
    expect(res.body.message).toMatch(message);
  });

  it('records a request that departs from the description while answering as DigitalOcean would', async () => {
    await create({ name: 'web_1' });
    const [violation] = t.requestViolations();
    expect(violation).toMatchObject({ phase: 'request', method: 'POST', path: '/v2/droplets' });
    expect(violation?.errors.some((e) => e.location === 'request.body/name')).toBe(true);
  });

  it('accepts user_data of exactly 64 KiB', async () => {
    expect((await create({ name: 'w', user_data: 'x'.repeat(64 * 1024) })).status).toBe(202);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const res = await t.emulator.app.request('http://emulator.test/v2/droplets', {
      method: 'POST',
      headers: { authorization: 'Bearer test-token-0123456789', 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ id: 'bad_request' });
  });
});

describe('listing, reading and deleting droplets', () => {
  it('lists droplets filtered by tag, a page at a time', async () => {
    await create({ name: 'a', tags: ['deploy-1'] });
    await create({ name: 'b', tags: ['deploy-2'] });
    await create({ name: 'c', tags: ['deploy-1'] });
    const tagged = await t.api('GET', '/v2/droplets?tag_name=deploy-1&per_page=1');
    expect(tagged.body.droplets.map((d: { name: string }) => d.name)).toEqual(['a']);
    expect(tagged.body.meta.total).toBe(2);
    expect(tagged.body.links.pages.next).toContain('tag_name=deploy-1');
    const all = await t.api('GET', '/v2/droplets');
    expect(all.body.droplets).toHaveLength(3);
    expect(all.body.links).toEqual({});
    expect(t.requestViolations()).toEqual([]);
  });

  it('deletes one droplet with 204, after which it is not found', async () => {
    const { body } = await create({ name: 'a' });
    const res = await t.api('DELETE', `/v2/droplets/${body.droplet.id}`);
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    expect((await t.api('GET', `/v2/droplets/${body.droplet.id}`)).status).toBe(404);
    expect((await t.api('DELETE', `/v2/droplets/${body.droplet.id}`)).status).toBe(404);
  });

  it('deletes every droplet with a tag and leaves the others', async () => {
    await create({ name: 'a', tags: ['doomed'] });
    await create({ name: 'b', tags: ['kept'] });
    await create({ name: 'c', tags: ['doomed', 'kept'] });
    const res = await t.api('DELETE', '/v2/droplets?tag_name=doomed');
    expect(res.status).toBe(204);
    const left = await t.api('GET', '/v2/droplets');
    expect(left.body.droplets.map((d: { name: string }) => d.name)).toEqual(['b']);
  });

  it('answers 404 for droplet ids that do not exist or are not numbers', async () => {
    expect((await t.api('GET', '/v2/droplets/999')).status).toBe(404);
    expect((await t.api('GET', '/v2/droplets/abc')).status).toBe(404);
  });
});
