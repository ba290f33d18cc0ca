import { describe, expect, it } from 'vitest';
import { emulatorCommand, emulatorToken, runEmulatorCommand } from './cli.ts';

/** The token the command settles on, parsing `args` with the variables in `env`. */
function parsedToken(args: string[], env: Record<string, string | undefined>): unknown {
  const command = emulatorCommand(env).action(() => {});
  command.parse(args, { from: 'user' });
  return command.opts().token;
}

describe('the do-emulator command', () => {
  it('says plainly what it is in its help', () => {
    const help = emulatorCommand().helpInformation();
    expect(help).toContain(
      'a local DigitalOcean for development and tests; state lives only in this process',
    );
    for (const flag of [
      '--port',
      '--token',
      '--active-after-ms',
      '--ssh-port',
      '--latency-ms',
      '--error-rate',
    ]) {
      expect(help).toContain(flag);
    }
  });

  it('names every place its token can come from, in order, in its help', () => {
    const help = emulatorCommand({}).helpInformation();
    expect(help).toContain('--token');
    expect(help).toContain('$BERTH_EMULATOR_TOKEN, else $DIGITALOCEAN_TOKEN');
  });

  it('takes its token from --token, then BERTH_EMULATOR_TOKEN, then DIGITALOCEAN_TOKEN', () => {
    const both = { BERTH_EMULATOR_TOKEN: 'emulator', DIGITALOCEAN_TOKEN: 'digitalocean' };
    expect(parsedToken(['--token', 'flag'], both)).toBe('flag');
    expect(parsedToken([], both)).toBe('emulator');
    expect(parsedToken([], { DIGITALOCEAN_TOKEN: 'digitalocean' })).toBe('digitalocean');
    // An empty variable is no token, so the next one is used.
    expect(parsedToken([], { BERTH_EMULATOR_TOKEN: '', DIGITALOCEAN_TOKEN: 'digitalocean' })).toBe(
      'digitalocean',
    );
    expect(emulatorToken(undefined, {})).toBeUndefined();
  });

  it('refuses to start without any token, naming the flag and both variables', () => {
    let written = '';
    const command = emulatorCommand({ DIGITALOCEAN_TOKEN: '' })
      .exitOverride()
      .configureOutput({ writeErr: (text) => (written += text) })
      .action(() => {
        throw new Error('the action must not run without a token');
      });
    expect(() => command.parse([], { from: 'user' })).toThrow(/no token/);
    expect(written).toContain('--token');
    expect(written).toContain('BERTH_EMULATOR_TOKEN');
    expect(written).toContain('DIGITALOCEAN_TOKEN');
  });

  it('reads its flags into the options runEmulatorCommand takes', () => {
    const command = emulatorCommand({}).action(() => {});
    command.parse(
      ['--port', '9000', '--token', 'T', '--ssh-port', '0', '--active-after-ms', '10', '--no-ssh'].concat([
        '--error-rate',
        'droplets_create=500:0.5',
        '--error-rate',
        '*=drop:0.1',
        '--latency-ms',
        '20',
      ]),
      { from: 'user' },
    );
    expect(command.opts()).toEqual({
      port: 9000,
      host: '127.0.0.1',
      token: 'T',
      sshPort: 0,
      activeAfterMs: 10,
      ssh: false,
      hosts: 'auto',
      errorRate: ['droplets_create=500:0.5', '*=drop:0.1'],
      latencyMs: ['20'],
    });
  });

  it('serves the API with the token, the faults and the latency it was given', async () => {
    const lines: string[] = [];
    const running = await runEmulatorCommand({
      port: 0,
      token: 'cli-token',
      sshPort: 0,
      ssh: false,
      errorRate: ['droplets_create=503:1'],
      latencyMs: ['sshKeys_list=1'],
      log: (line) => lines.push(line),
      env: {},
    });
    try {
      expect(lines[0]).toContain(running.url);
      expect(lines[1]).toBe(
        'DigitalOcean emulator: droplets are light ssh2 servers on loopback (SSH disabled)',
      );
      const auth = { authorization: 'Bearer cli-token', 'content-type': 'application/json' };
      expect((await fetch(`${running.url}/v2/account/keys`)).status).toBe(401);
      expect((await fetch(`${running.url}/v2/account/keys`, { headers: auth })).status).toBe(200);
      const create = await fetch(`${running.url}/v2/droplets`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ name: 'a', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' }),
      });
      expect(create.status).toBe(503);
    } finally {
      await running.close();
    }
  });

  it('refuses an error-rate spec it cannot read', async () => {
    await expect(
      runEmulatorCommand({ port: 0, token: 't', errorRate: ['oops'], log: () => {} }),
    ).rejects.toThrow(/endpoint=code:rate/);
  });
});
