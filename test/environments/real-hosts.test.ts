/**
 * berth deploying to real-host droplets: the local DigitalOcean boots each droplet as an
 * isolated Linux host with Debian's cloud-init and sshd, so berth's user_data really runs
 * and its users log in with Debian's ssh exactly as the API tells them to. Two droplets
 * for the whole file (each boot costs a few CPU seconds), on PGlite only: what is tested
 * is the droplet, and the database engines are covered by deploy.test.ts.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BOOTSTRAP_DONE_FILE } from '../../src/domain/environments/cloud-init.ts';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import type { ToolEnvironment } from '../../src/services/contracts.ts';
import { eventually, openStack, type Stack } from '../support/environments.ts';
import { describeRealHosts, detachedSleep, hostPidsMatching, sshRun } from '../support/real-hosts.ts';

interface Owner {
  userId: string;
  agentId: string;
  env: ToolEnvironment;
  privateKey: string;
  publicKey: string;
  dropletName: string;
}

describeRealHosts('tool environments on real-host droplets', () => {
  let s: Stack;
  const emulatorErrors: string[] = [];
  let alice: Owner;
  let bob: Owner;

  const deploy = async (): Promise<Owner> => {
    const userId = await s.t.createUser();
    const agentId = await s.createAgent(userId);
    await s.environments.service.ensureToolEnvironmentReady(agentId, userId);
    const env = await eventually(async () => {
      const got = await s.environments.service.getToolEnvironment(agentId, userId);
      if (got?.status === 'error_creation') throw new Error(`deploy failed: ${got.errorMessage}`);
      return got?.status === 'active' ? got : null;
    }, 150_000);
    const [key] = await s.sshKeys.getUserSSHKeys(userId);
    const privateKey = await s.sshKeys.readPrivateKeyAsService(key!.id, 'test login');
    const [droplet] = await s.client.listDropletsByTag(`agent:${agentId}`);
    return { userId, agentId, env, privateKey, publicKey: key!.publicKey, dropletName: droplet!.name };
  };

  /** Logs in as the API says: `ssh <ssh_user>@<ip_address> -p <ssh_port>`. */
  const asOwner = (owner: Owner, command: string, key = owner.privateKey) =>
    sshRun(
      { text: key },
      { user: owner.env.sshUser, address: owner.env.ipAddress!, port: owner.env.sshPort ?? 22 },
      command,
    );

  beforeAll(async () => {
    s = await openStack('pglite', { hosts: 'real', onEmulatorError: (m) => emulatorErrors.push(m) });
    [alice, bob] = await Promise.all([deploy(), deploy()]);
  }, 300_000);

  afterAll(async () => {
    expect(s.emulator.violations()).toEqual([]);
    await s.close();
  });

  it('tells the owner to log in as the agent on port 22 of the droplet’s address', () => {
    for (const owner of [alice, bob]) {
      expect(owner.env.sshUser).toBe('agent');
      expect(owner.env.sshPort).toBe(22);
      expect(owner.env.ipAddress).toMatch(/^198\.1[89]\.\d+\.\d+$/);
    }
    expect(alice.env.ipAddress).not.toBe(bob.env.ipAddress);
  });

  it('lets the agent user in with the owner’s key, and not with another user’s', async () => {
    expect(await asOwner(alice, 'id -un')).toMatchObject({ code: 0, stdout: 'agent\n' });
    const withBobsKey = await asOwner(alice, 'id -un', bob.privateKey);
    expect(withBobsKey.code).toBe(255);
    expect(withBobsKey.stderr).toMatch(/Permission denied/);
    const stranger = await asOwner(alice, 'id -un', generateKeyPair({ comment: 'stranger' }).privateKey);
    expect(stranger.code).toBe(255);
  });

  it('shows the droplet’s own identity, hostname and users inside', async () => {
    const id = await asOwner(alice, 'id');
    expect(id, id.stderr).toMatchObject({ code: 0 });
    expect(id.stdout).toMatch(/^uid=\d+\(agent\) gid=\d+\(agent\) groups=\d+\(agent\)\n$/);
    expect((await asOwner(alice, 'hostname')).stdout).toBe(`${alice.dropletName}\n`);
    const passwd = (await asOwner(alice, 'cat /etc/passwd')).stdout;
    expect(passwd).toMatch(/^agent:x:\d+:\d+:berth agent:\/home\/agent:\/bin\/bash$/m);
    expect(readFileSync('/etc/passwd', 'utf8')).not.toMatch(/^agent:.*berth agent/m);
    const keys = (await asOwner(alice, 'cat ~/.ssh/authorized_keys')).stdout;
    expect(keys).toContain(alice.publicKey.split(' ')[1]);
    expect(keys).not.toContain(bob.publicKey.split(' ')[1]);
  });

  it('keeps a file written in one droplet’s /etc out of the machine and the other droplet', async () => {
    const marker = `/etc/berth-real-host-${alice.env.id}`;
    // Root has the owner's keys too, as on any DigitalOcean droplet.
    const asRoot = (owner: Owner, command: string) =>
      sshRun({ text: owner.privateKey }, { user: 'root', address: owner.env.ipAddress! }, command);
    expect(await asRoot(alice, `echo mine > ${marker} && cat ${marker}`)).toMatchObject({
      code: 0,
      stdout: 'mine\n',
    });
    expect(() => readFileSync(marker)).toThrow(/ENOENT/);
    expect(await asRoot(bob, `test -e ${marker} || echo absent`)).toMatchObject({
      code: 0,
      stdout: 'absent\n',
    });
  });

  it('ran berth’s user_data with cloud-init, which reports success', async () => {
    const status = await asOwner(alice, 'cloud-init status --wait --long');
    expect(status.stdout).toMatch(/^status: done$/m);
    const result = JSON.parse((await asOwner(alice, 'cat /var/lib/cloud/data/result.json')).stdout);
    expect(result.v1.errors).toEqual([]);
    expect((await asOwner(alice, `test -e ${BOOTSTRAP_DONE_FILE} && echo done`)).stdout).toBe('done\n');
    // sshd runs with berth's settings: no passwords.
    const sshd = await sshRun(
      { text: alice.privateKey },
      { user: 'root', address: alice.env.ipAddress! },
      'sshd -T',
    );
    expect(sshd.stdout).toMatch(/^passwordauthentication no$/m);
    expect(sshd.stdout).toMatch(/^kbdinteractiveauthentication no$/m);
    expect(emulatorErrors).toEqual([]);
  });

  it('ends every process of the droplet when the environment is torn down', async () => {
    const seconds = 800_000 + Math.floor(Math.random() * 99_999);
    const marker = `sleep ${seconds}`;
    const started = await asOwner(bob, detachedSleep(seconds));
    expect(started.stdout).toBe('started\n');
    expect(await hostPidsMatching(marker)).toHaveLength(1);
    await s.environments.service.teardownToolEnvironment(bob.agentId, bob.userId);
    await s.environments.service.settled();
    expect(await s.environments.service.getToolEnvironment(bob.agentId, bob.userId)).toBeNull();
    expect(await hostPidsMatching(marker)).toEqual([]);
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(namespaces).not.toContain(`-${bob.env.dropletId}`);
    // Alice's droplet is untouched.
    expect((await asOwner(alice, 'echo still-up')).stdout).toBe('still-up\n');
  });
});
