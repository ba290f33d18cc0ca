import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePublicKey } from './pubkey.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-pubkey-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let made = 0;
function keygen(type: string): { pub: string; md5: string } {
  made += 1;
  const file = join(dir, `id_${type}_${made}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'test@host', '-f', file]);
  const printed = execFileSync('ssh-keygen', ['-E', 'md5', '-lf', `${file}.pub`], { encoding: 'utf8' });
  return { pub: readFileSync(`${file}.pub`, 'utf8'), md5: printed.split(' ')[1]!.replace(/^MD5:/, '') };
}

describe('public keys as the emulator sees them', () => {
  it.each(['ed25519', 'rsa', 'ecdsa'])('fingerprints a %s key exactly as ssh-keygen -E md5 does', (type) => {
    const { pub, md5 } = keygen(type);
    expect(parsePublicKey(pub)?.fingerprint).toBe(md5);
  });

  it('rejects a key whose stated type disagrees with its blob', () => {
    const { pub } = keygen('ed25519');
    expect(parsePublicKey(pub.replace(/^ssh-ed25519/, 'ssh-rsa'))).toBeUndefined();
  });

  it('rejects text that is not base64 and types it does not know', () => {
    expect(parsePublicKey('ssh-ed25519 not*base64 me')).toBeUndefined();
    expect(parsePublicKey('ssh-foo AAAA')).toBeUndefined();
    expect(parsePublicKey('-----BEGIN OPENSSH PRIVATE KEY-----')).toBeUndefined();
  });
});
