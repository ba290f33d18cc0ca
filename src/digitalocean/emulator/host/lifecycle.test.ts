/**
 * Droplet actions on a real host: power off ends its processes but keeps its disk, power
 * on and reboot boot it again as the same instance (cloud-init's per-instance work and
 * the host keys are not redone), and every answer still matches DigitalOcean's OpenAPI
 * description. One droplet, booted three times.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sshKeygen, type TestEmulator, testEmulator } from '../../../../test/support/do-spec.ts';
import { describeRealHosts, detachedSleep, sshRun, UNLIMITED } from '../../../../test/support/real-hosts.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-real-lifecycle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeRealHosts('droplet actions on a real host', () => {
  const key = sshKeygen(dir, 'key');
  let t: TestEmulator;
  let id: number;
  let address: string;
  const root = (command: string) => sshRun({ path: key.privatePath }, { user: 'root', address }, command);

  let lastAction: number | undefined;
  /** Waits until the droplet has `status` and its last action is done, as a client would. */
  const settle = async (status: string) => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { droplet } = (await t.api('GET', `/v2/droplets/${id}`)).body;
      const action =
        lastAction === undefined ? undefined : (await t.api('GET', `/v2/actions/${lastAction}`)).body.action;
      if (droplet.status === status && action?.status !== 'in-progress') return droplet;
      if (Date.now() > deadline) throw new Error(`droplet did not settle at ${status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const act = async (type: string) => {
    const res = await t.api('POST', `/v2/droplets/${id}/actions`, { body: { type } });
    expect(res.status).toBe(201);
    expect(res.body.action).toMatchObject({ type, status: 'in-progress' });
    lastAction = res.body.action.id;
  };

  beforeAll(async () => {
    // Polling a boot would meet DigitalOcean's 250 calls a minute; not this test's subject.
    t = testEmulator({ hosts: 'real', ssh: { enabled: true }, activeAfterMs: 100, rateLimits: UNLIMITED });
    const keyId = (
      await t.api('POST', '/v2/account/keys', { body: { name: 'k', public_key: key.publicKey } })
    ).body.ssh_key.id;
    const created = await t.api('POST', '/v2/droplets', {
      body: { name: 'cycled', size: 's-1vcpu-1gb', image: 'debian-12-x64', ssh_keys: [keyId] },
    });
    id = created.body.droplet.id;
    lastAction = created.body.links.actions[0].id;
    // While it boots the droplet is `new` and its create action in progress.
    expect((await t.api('POST', `/v2/droplets/${id}/actions`, { body: { type: 'reboot' } })).status).toBe(
      422,
    );
    const droplet = await settle('active');
    address = droplet.networks.v4.find((n: { type: string }) => n.type === 'public').ip_address;
  }, 150_000);

  afterAll(async () => {
    expect(t.responseViolations()).toEqual([]);
    expect(t.requestViolations()).toEqual([]);
    await t.emulator.close();
  });

  it('keeps its disk and identity across power off and on, and runs nothing while off', async () => {
    const hostKey = (await root('cat /etc/ssh/ssh_host_ed25519_key.pub')).stdout;
    expect((await root('echo kept > /root/kept && echo written')).stdout).toBe('written\n');
    await act('power_off');
    await settle('off');
    const off = await root('true');
    expect(off.code).toBe(255);
    expect(off.stderr).toMatch(/Connection refused/);
    await act('power_on');
    await settle('active');
    expect((await root('cat /root/kept')).stdout).toBe('kept\n');
    expect((await root('cat /etc/ssh/ssh_host_ed25519_key.pub')).stdout).toBe(hostKey);
    expect((await root('cloud-init status --wait')).stdout).toMatch(/status: done/);
  });

  it('reboots: processes end, the same instance comes back with the same address', async () => {
    const before = (await root('cat /proc/sys/kernel/random/boot_id; cat /var/lib/cloud/data/instance-id'))
      .stdout;
    await root(detachedSleep(4321));
    expect((await root('pgrep -x sleep -a')).stdout).toContain('sleep 4321');
    await act('reboot');
    const droplet = await settle('active');
    expect(droplet.networks.v4.find((n: { type: string }) => n.type === 'public').ip_address).toBe(address);
    expect((await root('pgrep -x sleep -a; echo listed')).stdout).not.toContain('sleep 4321');
    const after = (await root('cat /var/lib/cloud/data/instance-id')).stdout;
    expect(after).toBe(`${id}\n`);
    expect(before.split('\n')[1]).toBe(String(id));
  });
});
