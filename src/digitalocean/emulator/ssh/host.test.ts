import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createSshHost } from './host.ts';

describe('the SSH host’s port', () => {
  it('holds the port it probed, so no other emulator can be given it meanwhile', async () => {
    const hosts = Array.from({ length: 20 }, () => createSshHost({ port: 0, probeAddress: '127.0.0.2' }));
    try {
      const ports = await Promise.all(hosts.map((h) => h.ready()));
      expect(new Set(ports).size).toBe(ports.length);
      // The held port cannot be taken on the probe address by anyone else.
      const intruder = createServer();
      const taken = await new Promise<boolean>((resolve) => {
        intruder.once('error', () => resolve(true));
        intruder.listen(ports[0], '127.0.0.2', () => resolve(false));
      });
      intruder.close();
      expect(taken).toBe(true);
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  });

  it('hands the held port over to the droplet on the probe address, and frees it on close', async () => {
    const host = createSshHost({ port: 0, probeAddress: '127.0.0.2' });
    const port = await host.ready();
    await host.start({ id: 1, name: 'd1', address: '127.0.0.2', authorizedKeys: [] });
    await host.close();
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(port, '127.0.0.2', () => resolve());
    });
    await new Promise<void>((resolve) => again.close(() => resolve()));
  });
});
