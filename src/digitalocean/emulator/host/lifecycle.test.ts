/**
 * Droplet actions on a real host: power off ends its processes but keeps its disk, power
 * on and reboot boot it again as the same instance (cloud-init's per-instance work and
 * the host keys are not redone), and every answer still matches DigitalOcean's OpenAPI
 * description. One droplet, booted three times.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { sshKeygen, type TestEmulator, testEmulator } from '../../../../test/support/do-spec.ts';
import { describeRealHosts, detachedSleep, sshRun, UNLIMITED } from '../../../../test/support/real-hosts.ts';
import { namespacePids } from './network.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-real-lifecycle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeRealHosts('droplet actions on a real host', () => {
  const key = sshKeygen(dir, 'key');
  let t: TestEmulator;
  const errors: string[] = [];
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
    t = testEmulator({
      hosts: 'real',
      ssh: { enabled: true },
      activeAfterMs: 100,
      rateLimits: UNLIMITED,
      onError: (m) => errors.push(m),
    });
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

  it('destroys a droplet in the middle of its boot and leaves nothing of it', async () => {
    const created = await t.api('POST', '/v2/droplets', {
      body: { name: 'short-lived', size: 's-1vcpu-1gb', image: 'debian-12-x64' },
    });
    const doomed = created.body.droplet.id as number;
    const namespaces = () =>
      execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.split(' ')[0]!)
        .filter((n) => n.startsWith(`berth-do-${process.pid}-`) && n.endsWith(`-${doomed}`));
    // Its boot has begun once its namespace exists.
    const deadline = Date.now() + 60_000;
    while (namespaces().length === 0) {
      if (Date.now() > deadline) throw new Error('the boot never began');
      await new Promise((r) => setTimeout(r, 20));
    }
    const [namespace] = namespaces();
    expect((await t.api('DELETE', `/v2/droplets/${doomed}`)).status).toBe(204);
    expect((await t.api('GET', `/v2/droplets/${doomed}`)).status).toBe(404);
    await vi.waitFor(() => expect(namespaces()).toEqual([]), { timeout: 30_000 });
    expect(await namespacePids(namespace!)).toEqual([]);
    // The droplet beside it is untouched, and nothing was reported as a failure.
    expect((await root('echo still-up')).stdout).toBe('still-up\n');
    expect(errors).toEqual([]);
  });
});
