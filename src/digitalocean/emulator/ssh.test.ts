import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sshKeygen, type TestEmulator, testEmulator } from '../../../test/support/do-spec.ts';
import { realHostsAvailable, UNLIMITED } from '../../../test/support/real-hosts.ts';

// Debian's OpenSSH client is a hard requirement of these tests: without it they fail.
const SSH = '/usr/bin/ssh';

const dir = mkdtempSync(join(tmpdir(), 'berth-emu-ssh-'));
const named = sshKeygen(dir, 'named');
const onAccountOnly = sshKeygen(dir, 'account-only');
const stranger = sshKeygen(dir, 'stranger');
const late = sshKeygen(dir, 'late');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real ssh client asynchronously (the SSH server lives in this very process). */
function ssh(key: string, address: string, port: number, args: string[], input?: string, user = 'root') {
  return new Promise<SshResult>((resolve) => {
    const child = execFile(
      SSH,
      [
        ...[
          '-o',
          'StrictHostKeyChecking=no',
          '-o',
          'UserKnownHostsFile=/dev/null',
          '-o',
          'IdentitiesOnly=yes',
        ],
        ...['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR'],
        ...['-i', key, '-p', String(port), `${user}@${address}`, ...args],
      ],
      { encoding: 'utf8', timeout: 15_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

// Light droplets everywhere; real hosts where the machine can run them, and always in CI
// (where a machine that cannot fails these tests rather than skipping them).
const kinds =
  realHostsAvailable || process.env.CI === 'true' ? (['light', 'real'] as const) : (['light'] as const);

describe.each(kinds)('real SSH into emulated droplets (%s)', (kind) => {
  let t: TestEmulator;
  beforeEach(() => {
    // Polling a real boot would meet DigitalOcean's 250 calls a minute; not this test's subject.
    t = testEmulator({
      activeAfterMs: 50,
      sshPort: 0,
      ssh: { enabled: true },
      hosts: kind,
      ...(kind === 'real' ? { rateLimits: UNLIMITED } : {}),
    });
  });
  afterEach(async () => {
    expect(t.responseViolations()).toEqual([]);
    await t.emulator.close();
  });

  async function addKey(name: string, publicKey: string): Promise<number> {
    return (await t.api('POST', '/v2/account/keys', { body: { name, public_key: publicKey } })).body.ssh_key
      .id;
  }

  /** Creates a droplet with `keyIds`, waits for it to be active, and returns its public address. */
  async function activeDroplet(keyIds: number[]): Promise<{ id: number; address: string }> {
    const created = await t.api('POST', '/v2/droplets', {
      body: { name: 'box', region: 'nyc3', size: 's-1vcpu-1gb', image: 'debian-12-x64', ssh_keys: keyIds },
    });
    const id = created.body.droplet.id;
    // A real host boots cloud-init and sshd first: allow two minutes on a loaded machine.
    const tries = kind === 'real' ? 1200 : 100;
    for (let i = 0; i < tries; i++) {
      const { droplet } = (await t.api('GET', `/v2/droplets/${id}`)).body;
      if (droplet.status === 'active') {
        const address = droplet.networks.v4.find((n: { type: string }) => n.type === 'public').ip_address;
        return { id, address };
      }
      await new Promise((r) => setTimeout(r, kind === 'real' ? 100 : 20));
    }
    throw new Error('droplet never became active');
  }

  /** What the client says for a droplet's address once nothing is there any more. */
  const gone = kind === 'real' ? /Connection refused|No route to host/ : /Connection refused/;

  it('has the Debian OpenSSH client these tests rely on', () => {
    expect(existsSync(SSH)).toBe(true);
  });

  it('lets in root with a key named at creation and runs the command', async () => {
    const keyId = await addKey('named', named.publicKey);
    const { address } = await activeDroplet([keyId]);
    expect(address).toMatch(kind === 'real' ? /^198\.1[89]\.\d+\.\d+$/ : /^127\.0\.0\.\d+$/);
    if (kind === 'real') expect(t.emulator.sshPort).toBe(22);
    const result = await ssh(named.privatePath, address, t.emulator.sshPort, ['echo ok']);
    expect(result).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it('streams stderr separately and reports the exit status', async () => {
    const { address } = await activeDroplet([await addKey('named', named.publicKey)]);
    const result = await ssh(named.privatePath, address, t.emulator.sshPort, [
      'echo out; echo err >&2; exit 7',
    ]);
    expect(result).toEqual({ code: 7, stdout: 'out\n', stderr: 'err\n' });
  });

  it('offers a plain shell that reads commands from stdin', async () => {
    const { address } = await activeDroplet([await addKey('named', named.publicKey)]);
    const result = await ssh(
      named.privatePath,
      address,
      t.emulator.sshPort,
      ['-T'],
      'echo from-shell\nexit 0\n',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('from-shell');
  });

  it('refuses a key on the account that was not named, and a key not on the account', async () => {
    const keyId = await addKey('named', named.publicKey);
    await addKey('account-only', onAccountOnly.publicKey);
    const { address } = await activeDroplet([keyId]);
    for (const key of [onAccountOnly, stranger]) {
      const result = await ssh(key.privatePath, address, t.emulator.sshPort, ['echo ok']);
      expect(result.code).toBe(255);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/Permission denied/);
    }
  });

  it('refuses a key added to the account after the droplet was created', async () => {
    const { address } = await activeDroplet([await addKey('named', named.publicKey)]);
    await addKey('late', late.publicKey);
    const result = await ssh(late.privatePath, address, t.emulator.sshPort, ['echo ok']);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/Permission denied/);
  });

  it('refuses users other than root', async () => {
    const { address } = await activeDroplet([await addKey('named', named.publicKey)]);
    const result = await ssh(named.privatePath, address, t.emulator.sshPort, ['echo ok'], undefined, 'admin');
    expect(result.code).toBe(255);
  });

  it('gives each droplet its own address and stops listening when the droplet is deleted', async () => {
    const keyId = await addKey('named', named.publicKey);
    const first = await activeDroplet([keyId]);
    const second = await activeDroplet([keyId]);
    expect(second.address).not.toBe(first.address);
    expect((await t.api('DELETE', `/v2/droplets/${first.id}`)).status).toBe(204);
    const refused = await ssh(named.privatePath, first.address, t.emulator.sshPort, ['echo ok']);
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(gone);
    const stillUp = await ssh(named.privatePath, second.address, t.emulator.sshPort, ['echo ok']);
    expect(stillUp.stdout).toBe('ok\n');
  });

  it('stops answering SSH once the droplet is powered off', async () => {
    const { id, address } = await activeDroplet([await addKey('named', named.publicKey)]);
    const action = await t.api('POST', `/v2/droplets/${id}/actions`, { body: { type: 'power_off' } });
    expect(action.status).toBe(201);
    for (
      let i = 0;
      i < 100 && (await t.api('GET', `/v2/droplets/${id}`)).body.droplet.status !== 'off';
      i++
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const refused = await ssh(named.privatePath, address, t.emulator.sshPort, ['echo ok']);
    expect(refused.stderr).toMatch(/Connection refused/);
  });
});
