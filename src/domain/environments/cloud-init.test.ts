import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BOOTSTRAP_DONE_FILE, buildCloudInit, USER_DATA_LIMIT } from './cloud-init.ts';

// Debian's cloud-init checks the document against its own schema. CI installs it; on a
// machine without it that one check cannot run, and says so in its name.
const hasCloudInit = spawnSync('cloud-init', ['--version']).status === 0 || process.env.CI === 'true';

describe('cloud-init user data', () => {
  it('is a #cloud-config that makes the agent cloud-init’s default user, so it gets the droplet’s keys', () => {
    const text = buildCloudInit({ agentUser: 'agent', installDocker: false });
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    const config = parse(text);
    expect(config.users).toEqual(['default']);
    expect(config.system_info.default_user).toEqual({
      name: 'agent',
      gecos: 'berth agent',
      shell: '/bin/bash',
      lock_passwd: true,
      sudo: false,
      groups: [],
    });
    // Passwords off by a drop-in sshd reads at its first start, not by ssh_pwauth (a restart).
    expect(config.ssh_pwauth).toBeUndefined();
    expect(config.write_files).toEqual([
      {
        path: '/etc/ssh/sshd_config.d/50-berth.conf',
        content: 'PasswordAuthentication no\nKbdInteractiveAuthentication no\n',
        permissions: '0644',
      },
    ]);
    expect(config.disable_root).toBe(false);
    expect(config.runcmd).toEqual([['touch', BOOTSTRAP_DONE_FILE]]);
    expect(config.packages).toBeUndefined();
    expect(Buffer.byteLength(text)).toBeLessThan(USER_DATA_LIMIT);
  });

  it('installs Docker and puts the agent in its group when asked', () => {
    const config = parse(buildCloudInit({ agentUser: 'agent', installDocker: true }));
    expect(config.packages).toEqual(['docker.io']);
    expect(config.package_update).toBe(true);
    expect(config.groups).toEqual(['docker']);
    expect(config.system_info.default_user.groups).toEqual(['docker']);
  });

  it('never carries key material or a token', () => {
    for (const installDocker of [false, true]) {
      const text = buildCloudInit({ agentUser: 'agent', installDocker });
      expect(text).not.toMatch(/PRIVATE KEY|ssh-ed25519 AAAA|ssh-rsa AAAA|DIGITALOCEAN_TOKEN|dop_v1_/);
      expect(parse(text).system_info.default_user.ssh_authorized_keys).toBeUndefined();
    }
  });

  it('refuses a user name that could inject anything', () => {
    expect(() => buildCloudInit({ agentUser: 'x; rm -rf /', installDocker: false })).toThrow(TypeError);
    expect(() => buildCloudInit({ agentUser: 'a\nruncmd: [reboot]', installDocker: false })).toThrow(
      TypeError,
    );
  });

  it.runIf(hasCloudInit)('passes cloud-init’s own schema check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-cloud-init-'));
    try {
      for (const installDocker of [false, true]) {
        const file = join(dir, `user-data-${installDocker}`);
        writeFileSync(file, buildCloudInit({ agentUser: 'agent', installDocker }));
        const out = execFileSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8' });
        expect(out).toMatch(/Valid cloud-config/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
