/**
 * `berth do-emulator` as a developer starts it: the real command in a process of its own,
 * configured only through its environment. With nothing but `DIGITALOCEAN_TOKEN` set (the
 * variable berth reads) it serves and accepts that token; with no token at all it refuses
 * to start and says which flag and variables would do.
 */
import { describe, expect, it } from 'vitest';
import { runBerthCommand } from '../support/berth-process.ts';

describe('berth do-emulator', () => {
  it('runs on DIGITALOCEAN_TOKEN alone and accepts that token', async () => {
    const emulator = runBerthCommand(['do-emulator', '--port', '0', '--no-ssh'], {
      DIGITALOCEAN_TOKEN: 'one-variable-for-both',
    });
    try {
      const line = await emulator.line((l) => l.includes('DigitalOcean emulator listening on'));
      const url = /listening on (http:\/\/\S+)/.exec(line)?.[1];
      expect(url).toBeDefined();
      const keys = `${url}/v2/account/keys`;
      const accepted = await fetch(keys, { headers: { authorization: 'Bearer one-variable-for-both' } });
      expect(accepted.status).toBe(200);
      const refused = await fetch(keys, { headers: { authorization: 'Bearer another-token' } });
      expect(refused.status).toBe(401);
    } finally {
      await emulator.kill();
    }
  });

  it('refuses to start without a token, naming where one can come from', async () => {
    const emulator = runBerthCommand(['do-emulator', '--port', '0', '--no-ssh'], {});
    const { code, stderr } = await emulator.exited;
    expect(code).not.toBe(0);
    expect(stderr).toContain('no token');
    expect(stderr).toContain('--token');
    expect(stderr).toContain('BERTH_EMULATOR_TOKEN');
    expect(stderr).toContain('DIGITALOCEAN_TOKEN');
  });
});
