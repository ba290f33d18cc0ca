/**
 * Logins to real-host droplets checked against berth: the droplet's sshd (Debian's
 * OpenSSH, with the drop-in berth's user_data writes) runs berth's login check at every
 * login, which asks berth's droplet API (here on the address droplets reach the machine
 * at) with the droplet's credential. Key changes in berth apply at the next login; when
 * berth cannot be reached the droplet's last good answer stands in for the grace period,
 * and then nothing does. On PGlite only: what is tested is the droplet's side; the
 * lookup's engines are covered by droplet-access.test.ts.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureRangeStaysLocal, MACHINE_ADDRESS } from '../../src/digitalocean/emulator/host/network.ts';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { createDropletApp } from '../../src/http/droplet-app.ts';
import { clientIpResolver } from '../../src/http/middleware.ts';
import { type Listener, listen } from '../../src/http/server.ts';
import { type Deployed, deployWithCredential } from '../support/droplet-access.ts';
import { eventually, openStack, type Stack } from '../support/environments.ts';
import { describeRealHosts, sshRun } from '../support/real-hosts.ts';

const GRACE_SECONDS = 20;

describeRealHosts('logins to real-host droplets, checked against berth', () => {
  let s: Stack;
  let port: number;
  let berth: Listener | null = null;
  let hanging: { server: Server; sockets: Set<Socket> } | null = null;
  let alice: Deployed & { privateKey: string };
  let bob: Deployed & { privateKey: string };
  const emulatorErrors: string[] = [];

  const startBerth = async () => {
    const app = createDropletApp({
      access: s.dropletAccess,
      clientIp: clientIpResolver(0),
      logger: pino({ level: 'silent' }),
    });
    berth = await listen(app.fetch, { port, host: MACHINE_ADDRESS });
    port = berth.port;
  };
  const stopBerth = async () => {
    await berth?.close();
    berth = null;
  };
  /** A berth that accepts connections and never answers. */
  const hangBerth = async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(port, MACHINE_ADDRESS, resolve));
    hanging = { server, sockets };
  };
  const unhangBerth = async () => {
    if (!hanging) return;
    for (const socket of hanging.sockets) socket.destroy();
    await new Promise<void>((resolve) => hanging!.server.close(() => resolve()));
    hanging = null;
  };

  const deploy = async () => {
    const d = await deployWithCredential(s, 150_000);
    const [key] = await s.sshKeys.getUserSSHKeys(d.userId);
    return { ...d, privateKey: await s.sshKeys.readPrivateKeyAsService(key!.id, 'test login') };
  };
  const login = (owner: Deployed, key: string, user = 'agent') =>
    sshRun({ text: key }, { user, address: owner.env.ipAddress! }, 'id -un');
  const admitted = async (owner: Deployed, key: string, user = 'agent') => {
    const r = await login(owner, key, user);
    return r.code === 0 && r.stdout === `${user}\n`;
  };

  beforeAll(async () => {
    await ensureRangeStaysLocal();
    s = await openStack('pglite', {
      hosts: 'real',
      onEmulatorError: (m) => emulatorErrors.push(m),
      dropletApi: { graceSeconds: GRACE_SECONDS },
    });
    port = 0;
    await startBerth();
    s.dropletAccess.serveAt(berth!.url);
    [alice, bob] = await Promise.all([deploy(), deploy()]);
  }, 300_000);

  afterAll(async () => {
    await unhangBerth();
    await stopBerth();
    await s?.close();
  });

  it('lets the owner in as the agent and as root, and no one else, the key files switched off', async () => {
    expect(alice.env.loginAccess).toBe('live');
    expect(await admitted(alice, alice.privateKey)).toBe(true);
    expect(await admitted(alice, alice.privateKey, 'root')).toBe(true);
    expect(await admitted(alice, bob.privateKey)).toBe(false);
    expect(await admitted(alice, generateKeyPair({ comment: 'stranger' }).privateKey)).toBe(false);
    // A key written into authorized_keys on the droplet opens nothing: sshd no longer reads the files.
    const planted = await sshRun(
      { text: alice.privateKey },
      { user: 'root', address: alice.env.ipAddress! },
      `echo '${bob.publicKey.trim()}' >> /root/.ssh/authorized_keys && echo '${bob.publicKey.trim()}' >> /home/agent/.ssh/authorized_keys && echo planted`,
    );
    expect(planted.stdout).toBe('planted\n');
    expect(await admitted(alice, bob.privateKey, 'root')).toBe(false);
    expect(await admitted(alice, bob.privateKey)).toBe(false);
  });

  it('ran the login check’s bootstrap cleanly: files owned as they must be, cache seeded', async () => {
    const asRoot = (command: string) =>
      sshRun({ text: alice.privateKey }, { user: 'root', address: alice.env.ipAddress! }, command);
    expect((await asRoot('cloud-init status --wait')).stdout).toMatch(/^status: done$/m);
    const result = JSON.parse((await asRoot('cat /var/lib/cloud/data/result.json')).stdout);
    expect(result.v1.errors).toEqual([]);
    const modes = await asRoot(
      'stat -c "%n %U %a" /etc/berth/droplet-credential /var/lib/berth-keys /var/lib/berth-keys/authorized_keys /usr/local/sbin/berth-authorized-keys',
    );
    expect(modes.stdout).toBe(
      [
        '/etc/berth/droplet-credential berth-keys 400',
        '/var/lib/berth-keys berth-keys 700',
        '/var/lib/berth-keys/authorized_keys berth-keys 600',
        '/usr/local/sbin/berth-authorized-keys root 755',
        '',
      ].join('\n'),
    );
    // The agent cannot read the credential.
    expect(
      (
        await sshRun(
          { text: alice.privateKey },
          { user: 'agent', address: alice.env.ipAddress! },
          'cat /etc/berth/droplet-credential',
        )
      ).code,
    ).not.toBe(0);
    expect(emulatorErrors).toEqual([]);
  });

  it('lets a key imported after the deploy in at the next login', async () => {
    const laptop = generateKeyPair({ comment: 'second-laptop' });
    await s.sshKeys.importKey(alice.userId, { name: 'second laptop', publicKey: laptop.publicKey });
    expect(await admitted(alice, laptop.privateKey)).toBe(true);
  });

  it('refuses a deleted key at the next login, while the owner’s other key still works', async () => {
    const stolen = generateKeyPair({ comment: 'stolen-laptop' });
    const key = await s.sshKeys.importKey(alice.userId, {
      name: 'stolen laptop',
      publicKey: stolen.publicKey,
    });
    expect(await admitted(alice, stolen.privateKey, 'root')).toBe(true);
    await s.sshKeys.deleteUserSSHKey(alice.userId, key.id);
    expect(await admitted(alice, stolen.privateKey, 'root')).toBe(false);
    expect(await admitted(alice, stolen.privateKey)).toBe(false);
    expect(await admitted(alice, alice.privateKey)).toBe(true);
  });

  it('admits the last good answer’s keys while berth is away or hangs, then fails closed past the grace', async () => {
    // A fresh good answer starts the grace period.
    expect(await admitted(bob, bob.privateKey)).toBe(true);
    const lastGood = Date.now();
    await stopBerth();
    expect(await admitted(bob, bob.privateKey)).toBe(true);
    expect(await admitted(bob, alice.privateKey)).toBe(false);
    // A berth that accepts and never answers: the command gives up after its timeout
    // (3 s), far inside what sshd would otherwise wait (LoginGraceTime, 120 s).
    await hangBerth();
    const begun = Date.now();
    expect(await admitted(bob, bob.privateKey)).toBe(true);
    expect(Date.now() - begun).toBeLessThan(30_000);
    await unhangBerth();
    // Past the grace, nothing admits anyone until berth answers again.
    await new Promise((r) => setTimeout(r, Math.max(0, lastGood + (GRACE_SECONDS + 2) * 1000 - Date.now())));
    expect(await admitted(bob, bob.privateKey)).toBe(false);
    await startBerth();
    expect(await admitted(bob, bob.privateKey)).toBe(true);
  }, 120_000);

  it('stops every login when the environment is torn down', async () => {
    await eventually(async () => (await admitted(bob, bob.privateKey)) || null, 30_000);
    await s.dropletAccess.revoke(bob.env.id, bob.userId);
    expect(await admitted(bob, bob.privateKey)).toBe(false);
  });
});
