import { describe, expect, it } from 'vitest';
import type { SshKey } from '../api/client.ts';
import { keyFixture } from '../test/harness.tsx';
import { keyFilePath, loginKey, privateKeyFileName, sshCommand } from './ssh.ts';

const key = (overrides: Partial<SshKey>) => keyFixture(overrides) as SshKey;

describe('reaching an environment over SSH', () => {
  it('names a private key file as berth’s download does, with unsafe characters replaced', () => {
    expect(privateKeyFileName({ name: 'my laptop/../x', algorithm: 'ed25519' })).toBe(
      'berth-my_laptop_.._x-ed25519',
    );
  });

  it('logs in with a key the droplet trusts, preferring the default key berth generated', () => {
    const imported = key({ id: 'a', source: 'imported', is_default: false, fingerprint_md5: 'md5-a' });
    const extra = key({ id: 'b', is_default: false, fingerprint_md5: 'md5-b' });
    const main = key({ id: 'c', is_default: true, fingerprint_md5: 'md5-c' });
    const untrusted = key({ id: 'd', is_default: false, fingerprint_md5: 'md5-d' });
    const env = { ssh_key_fingerprints: ['md5-a', 'md5-b', 'md5-c'] };
    expect(loginKey(env, [imported, untrusted, extra, main])?.id).toBe('c');
    expect(loginKey(env, [imported, extra])?.id).toBe('b');
    expect(loginKey(env, [untrusted])).toBeNull();
  });

  it('points -i at the downloaded file for a generated key and at ~/.ssh for an imported one', () => {
    expect(keyFilePath(key({ name: 'default', algorithm: 'ed25519' }))).toBe(
      '~/Downloads/berth-default-ed25519',
    );
    expect(keyFilePath(key({ source: 'imported', algorithm: 'rsa' }))).toBe('~/.ssh/id_rsa');
  });

  it('builds the ssh command once the droplet has an address, bracketing IPv6', () => {
    const env = { ip_address: '203.0.113.7', ssh_port: 22, ssh_user: 'agent' };
    expect(sshCommand(env, '~/k')).toBe('ssh -i ~/k agent@203.0.113.7');
    expect(sshCommand({ ...env, ssh_port: null }, '~/k')).toBe('ssh -i ~/k agent@203.0.113.7');
    expect(sshCommand({ ...env, ip_address: '2001:db8::1', ssh_port: 2222 }, 'k')).toBe(
      'ssh -i k -p 2222 agent@[2001:db8::1]',
    );
    expect(sshCommand({ ...env, ip_address: null }, 'k')).toBeNull();
  });
});
