import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildCloudInit, USER_DATA_LIMIT } from './cloud-init.ts';

describe('cloud-init user data', () => {
  it('is a valid shell script that gives the agent user root’s authorized keys', () => {
    const script = buildCloudInit({ agentUser: 'agent', installDocker: true });
    execFileSync('sh', ['-n'], { input: script });
    expect(script).toContain('/root/.ssh/authorized_keys /home/agent/.ssh/authorized_keys');
    expect(script).toContain('id -u agent >/dev/null 2>&1 ||');
    expect(Buffer.byteLength(script)).toBeLessThan(USER_DATA_LIMIT);
  });

  it('never carries key material or a token', () => {
    const script = buildCloudInit({ agentUser: 'agent', installDocker: false });
    expect(script).not.toMatch(/PRIVATE KEY|ssh-ed25519 AAAA|ssh-rsa AAAA|DIGITALOCEAN_TOKEN|dop_v1_/);
    expect(script).not.toContain('docker');
  });

  it('refuses a user name that could inject shell', () => {
    expect(() => buildCloudInit({ agentUser: 'x; rm -rf /', installDocker: false })).toThrow(TypeError);
  });
});
