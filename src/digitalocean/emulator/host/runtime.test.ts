/**
 * Real-host droplets, end to end through the emulator's API: one droplet booted by real
 * cloud-init from a #cloud-config, logged into with Debian's ssh, looked at from inside
 * and from the machine, then destroyed. One boot for the whole file (a boot costs a few
 * CPU seconds); the crash case, which needs a second emulator process, lives in
 * crash.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sshKeygen, TEST_TOKEN, type TestEmulator, testEmulator } from '../../../../test/support/do-spec.ts';
import {
  describeRealHosts,
  detachedSleep,
  hostPidsMatching,
  sshRun,
  UNLIMITED,
} from '../../../../test/support/real-hosts.ts';
import { HOST_NETWORK } from './network.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-real-host-'));
const stateRoot = join(dir, 'state');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeRealHosts('a real-host droplet', () => {
  const rootKey = sshKeygen(dir, 'root-key');
  const userKey = sshKeygen(dir, 'user-key');
  const stranger = sshKeygen(dir, 'stranger');
  const errors: string[] = [];
  let t: TestEmulator;
  let droplet: { id: number; address: string; name: string };

  const userData = [
    '#cloud-config',
    'users:',
    '  - name: tester',
    '    shell: /bin/bash',
    `    ssh_authorized_keys: ['${userKey.publicKey}']`,
    'write_files:',
    '  - path: /etc/emulator-test.conf',
    '    content: written by cloud-init',
    'runcmd:',
    '  - [sh, -c, "echo ran > /root/runcmd-ran"]',
    '',
  ].join('\n');

  beforeAll(async () => {
    // Polling a boot would meet DigitalOcean's 250 calls a minute; not this test's subject.
    t = testEmulator({
      rateLimits: UNLIMITED,
      hosts: 'real',
      hostStateRoot: stateRoot,
      ssh: { enabled: true },
      onError: (m) => errors.push(m),
    });
    const key = await t.api('POST', '/v2/account/keys', {
      body: { name: 'root', public_key: rootKey.publicKey },
    });
    const created = await t.api('POST', '/v2/droplets', {
      body: {
        name: 'real-box',
        region: 'ams3',
        size: 's-1vcpu-1gb',
        image: 'debian-12-x64',
        ssh_keys: [key.body.ssh_key.id],
        user_data: userData,
        tags: ['emulator-test'],
      },
    });
    expect(created.status).toBe(202);
    const id = created.body.droplet.id as number;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const got = (await t.api('GET', `/v2/droplets/${id}`)).body.droplet;
      if (got.status === 'active') {
        const address = got.networks.v4.find((n: { type: string }) => n.type === 'public').ip_address;
        droplet = { id, address, name: got.name };
        break;
      }
      if (Date.now() > deadline) throw new Error(`droplet never became active: ${errors.join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 150_000);

  afterAll(async () => {
    expect(t.responseViolations()).toEqual([]);
    await t.emulator.close();
  });

  it('is on the emulator’s own address range, with sshd on port 22', () => {
    expect(droplet.address.startsWith('198.1')).toBe(true);
    expect(HOST_NETWORK).toEqual({ base: '198.18.0.0', prefix: 15 });
    expect(t.emulator.sshPort).toBe(22);
    expect(t.emulator.admin.snapshot().hosts).toBe('real');
  });

  it('lets in root with the create-time key and the user_data’s user with its own key, no one else', async () => {
    const target = (user: string) => ({ user, address: droplet.address });
    expect(await sshRun({ path: rootKey.privatePath }, target('root'), 'echo ok')).toMatchObject({
      code: 0,
      stdout: 'ok\n',
    });
    expect(await sshRun({ path: userKey.privatePath }, target('tester'), 'id -un')).toMatchObject({
      code: 0,
      stdout: 'tester\n',
    });
    for (const [key, user] of [
      [stranger, 'root'],
      [stranger, 'tester'],
      [rootKey, 'tester'],
      [userKey, 'root'],
    ] as const) {
      const refused = await sshRun({ path: key.privatePath }, target(user), 'echo ok');
      expect(refused.code).toBe(255);
      expect(refused.stderr).toMatch(/Permission denied/);
    }
  });

  it('is its own host: hostname, users, /etc and processes are the droplet’s, not the machine’s', async () => {
    const root = (command: string) =>
      sshRun({ path: rootKey.privatePath }, { user: 'root', address: droplet.address }, command);
    expect((await root('hostname')).stdout).toBe('real-box\n');
    const passwd = (await root('cat /etc/passwd')).stdout;
    expect(passwd).toMatch(/^tester:/m);
    expect(readFileSync('/etc/passwd', 'utf8')).not.toMatch(/^tester:/m);
    expect((await root('cat /etc/emulator-test.conf')).stdout).toContain('written by cloud-init');
    expect(existsSync('/etc/emulator-test.conf')).toBe(false);
    // The machine's processes (this test runner among them) are invisible inside.
    const processes = (await root('ps -e -o comm=')).stdout.split('\n');
    expect(processes).not.toContain('node');
    // Nor can a droplet's root signal them: this runner's pid means nothing inside.
    expect(
      (await root(`kill -0 ${process.pid} 2>/dev/null && echo reached || echo unreachable`)).stdout,
    ).toBe('unreachable\n');
    expect((await root('cat /proc/1/cmdline | tr "\\0" " "')).stdout).toMatch(/^\/bin\/sh -c/);
    // Host keys were made at first boot, not copied from the machine.
    const hostKey = (await root('cat /etc/ssh/ssh_host_ed25519_key.pub')).stdout.split(' ')[1];
    if (existsSync('/etc/ssh/ssh_host_ed25519_key.pub')) {
      expect(readFileSync('/etc/ssh/ssh_host_ed25519_key.pub', 'utf8')).not.toContain(hostKey);
    }
    // No way out: no default route, only its link and the metadata address.
    expect((await root('ip -4 route show default')).stdout).toBe('');
  });

  it('serves DigitalOcean’s metadata at 169.254.169.254 to the droplet', async () => {
    const root = (command: string) =>
      sshRun({ path: rootKey.privatePath }, { user: 'root', address: droplet.address }, command);
    const md = 'http://169.254.169.254/metadata/v1';
    expect((await root(`curl -sf ${md}/id`)).stdout).toBe(String(droplet.id));
    expect((await root(`curl -sf ${md}/hostname`)).stdout).toBe('real-box');
    expect((await root(`curl -sf ${md}/region`)).stdout).toBe('ams3');
    expect((await root(`curl -sf ${md}/public-keys`)).stdout).toContain(rootKey.publicKey);
    expect((await root(`curl -sf ${md}/user-data`)).stdout).toBe(userData);
    expect((await root(`curl -sf ${md}/interfaces/public/0/ipv4/address`)).stdout).toBe(droplet.address);
    const index = (await root(`curl -sf ${md}/`)).stdout.split('\n');
    expect(index).toEqual(
      expect.arrayContaining(['id', 'hostname', 'user-data', 'public-keys', 'interfaces/']),
    );
    const doc = JSON.parse((await root(`curl -sf ${md}.json`)).stdout);
    expect(doc).toMatchObject({ droplet_id: droplet.id, hostname: 'real-box', tags: ['emulator-test'] });
  });

  it('ran cloud-init’s stages with the DigitalOcean datasource and no errors, and shows the boot log', async () => {
    const root = (command: string) =>
      sshRun({ path: rootKey.privatePath }, { user: 'root', address: droplet.address }, command);
    const status = await root('cloud-init status --wait --long');
    expect(status.stdout).toMatch(/^status: done$/m);
    const result = JSON.parse((await root('cat /var/lib/cloud/data/result.json')).stdout);
    expect(result.v1).toEqual({ datasource: 'DataSourceDigitalOcean', errors: [] });
    expect((await root('cat /root/runcmd-ran')).stdout).toBe('ran\n');
    const res = await t.emulator.app.request(
      `http://emulator.test/_emulator/droplets/${droplet.id}/console`,
      {
        headers: { authorization: `Bearer ${TEST_TOKEN}` },
      },
    );
    expect(res.status).toBe(200);
    const log = (await res.json()) as Record<string, unknown>;
    expect(log.boot).toContain('emulator: sshd started');
    expect(log.cloud_init_output).toContain('Datasource DataSourceDigitalOcean');
    expect(log.sshd).toContain('Server listening');
    expect(log.cloud_init_result).toEqual({ datasource: 'DataSourceDigitalOcean', errors: [] });
    expect(errors).toEqual([]);
  });

  it('ends every process of the droplet and removes its files and network on destroy', async () => {
    const seconds = 900_000 + (droplet.id % 1000);
    const marker = `sleep ${seconds}`;
    const started = await sshRun(
      { path: rootKey.privatePath },
      { user: 'root', address: droplet.address },
      detachedSleep(seconds),
    );
    expect(started.stdout).toBe('started\n');
    expect(await hostPidsMatching(marker)).toHaveLength(1);
    const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(namespaces()).toContain(`-${droplet.id}`);
    expect((await t.api('DELETE', `/v2/droplets/${droplet.id}`)).status).toBe(204);
    expect(await hostPidsMatching(marker)).toEqual([]);
    expect(namespaces()).not.toMatch(new RegExp(`^berth-do-${process.pid}-\\w+-${droplet.id}\\b`, 'm'));
    const [emulatorDir] = readdirSync(stateRoot);
    expect(readdirSync(join(stateRoot, emulatorDir!))).toEqual([]);
    const after = await sshRun(
      { path: rootKey.privatePath },
      { user: 'root', address: droplet.address },
      'true',
    );
    expect(after.code).toBe(255);
  });

  it('reports a boot whose sshd cannot start, with the droplet’s log, and still turns it active', async () => {
    const broken = [
      '#cloud-config',
      'write_files:',
      '  - path: /etc/ssh/sshd_config.d/broken.conf',
      '    content: "NoSuchOption yes"',
      '',
    ].join('\n');
    const created = await t.api('POST', '/v2/droplets', {
      body: { name: 'broken-box', size: 's-1vcpu-1gb', image: 'debian-12-x64', user_data: broken },
    });
    const id = created.body.droplet.id as number;
    const deadline = Date.now() + 120_000;
    while ((await t.api('GET', `/v2/droplets/${id}`)).body.droplet.status !== 'active') {
      if (Date.now() > deadline) throw new Error('the broken droplet never became active');
      await new Promise((r) => setTimeout(r, 100));
    }
    const report = errors.find((e) => e.includes(`droplet ${id} (broken-box) failed to boot`));
    expect(report).toBeDefined();
    expect(report).toContain('sshd did not start');
    // The log says why: sshd's own complaint about the line user_data wrote.
    expect(report).toMatch(/broken\.conf.*NoSuchOption|Bad configuration option: NoSuchOption/);
    const snapshot = t.emulator.admin.snapshot().droplets.find((d) => d.id === id);
    expect(snapshot?.ssh_error).toContain('failed to boot');
  });
});
