import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestEmulator, testEmulator } from '../support/do-spec.ts';

let now = 0;
let t: TestEmulator;
beforeEach(() => {
  now = Date.UTC(2026, 0, 1);
  t = testEmulator({ clock: () => now, activeAfterMs: 1000 });
});
afterEach(async () => {
  expect(t.responseViolations()).toEqual([]);
  expect(t.requestViolations()).toEqual([]);
  await t.emulator.close();
});

async function activeDroplet(): Promise<number> {
  const res = await t.api('POST', '/v2/droplets', {
    body: { name: 'web-1', region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' },
  });
  now += 1000;
  await t.emulator.advance();
  return res.body.droplet.id;
}

const act = (id: number, body: Record<string, unknown>) =>
  t.api('POST', `/v2/droplets/${id}/actions`, { body });
const status = async (id: number) => (await t.api('GET', `/v2/droplets/${id}`)).body.droplet.status;

describe('droplet actions', () => {
  it('powers a droplet off and on again, each action completing after the delay', async () => {
    const id = await activeDroplet();
    const off = await act(id, { type: 'power_off' });
    expect(off.status).toBe(201);
    expect(off.body.action).toMatchObject({ type: 'power_off', status: 'in-progress', resource_id: id });
    expect(await status(id)).toBe('active');
    now += 1000;
    expect(await status(id)).toBe('off');
    const done = await t.api('GET', `/v2/actions/${off.body.action.id}`);
    expect(done.body.action.status).toBe('completed');
    expect(done.body.action.completed_at).not.toBeNull();

    await act(id, { type: 'power_on' });
    now += 1000;
    expect(await status(id)).toBe('active');
  });

  it('shuts down and reboots', async () => {
    const id = await activeDroplet();
    await act(id, { type: 'shutdown' });
    now += 1000;
    expect(await status(id)).toBe('off');
    const reboot = await act(id, { type: 'reboot' });
    expect(reboot.body.action.type).toBe('reboot');
    now += 1000;
    expect(await status(id)).toBe('active');
  });

  it('reports an action under its droplet as well', async () => {
    const id = await activeDroplet();
    const { body } = await act(id, { type: 'reboot' });
    const res = await t.api('GET', `/v2/droplets/${id}/actions/${body.action.id}`);
    expect(res.body.action.id).toBe(body.action.id);
  });

  it('refuses a second action while one is in progress, creation included', async () => {
    const res = await t.api('POST', '/v2/droplets', {
      body: { name: 'fresh', region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' },
    });
    const busy = await act(res.body.droplet.id, { type: 'power_off' });
    expect(busy.status).toBe(422);
    expect(busy.body.message).toBe('Droplet already has a pending event.');
  });

  it('renames a droplet when the rename completes', async () => {
    const id = await activeDroplet();
    await act(id, { type: 'rename', name: 'web-2' });
    now += 1000;
    expect((await t.api('GET', `/v2/droplets/${id}`)).body.droplet.name).toBe('web-2');
  });

  it('answers 404 for actions on droplets that do not exist and for unknown actions', async () => {
    expect((await act(424242, { type: 'reboot' })).status).toBe(404);
    expect((await t.api('GET', '/v2/actions/77')).status).toBe(404);
  });

  it('refuses action types it does not carry out rather than pretending', async () => {
    const id = await activeDroplet();
    const res = await act(id, { type: 'snapshot', name: 'snap' });
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/does not carry out "snapshot"/);
  });
});
