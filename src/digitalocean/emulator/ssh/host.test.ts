/**
 * The emulator's SSH host picks one free port for all its droplets. It must keep that port
 * reserved from the probe until its first droplet listens on it, or another emulator (in
 * another test worker) could be handed the same port, and it must give the port up on close.
 */
import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createSshHost } from './host.ts';

/** The error code of listening on `port` at `address`, or null when the listen succeeds. */
async function listenError(port: number, address: string): Promise<string | null> {
  const server = createServer();
  const code = await new Promise<string | null>((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'unknown'));
    server.listen(port, address, () => resolve(null));
  });
  await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  return code;
}

/** The first line the server at `address:port` sends, or '' if it sends nothing within 2 s. */
async function greeting(port: number, address: string): Promise<string> {
  const socket = connect(port, address);
  try {
    return await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve(''), 2_000);
      socket.once('data', (data) => {
        clearTimeout(timer);
        resolve(data.toString('latin1').split('\r\n')[0] ?? '');
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve('');
      });
    });
  } finally {
    socket.destroy();
  }
}

describe('the SSH host’s port', () => {
  it('holds the port it probed, so no other emulator can be given it meanwhile', async () => {
    const hosts = Array.from({ length: 20 }, () => createSshHost({ port: 0, probeAddress: '127.0.0.2' }));
    try {
      const ports = await Promise.all(hosts.map((h) => h.ready()));
      expect(new Set(ports).size).toBe(ports.length);
      // Only "address in use" shows the port is held; any other listen error would not.
      expect(await listenError(ports[0]!, '127.0.0.2')).toBe('EADDRINUSE');
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  });

  it('hands the held port over to the droplet on the probe address, and frees it on close', async () => {
    const host = createSshHost({ port: 0, probeAddress: '127.0.0.2' });
    const port = await host.ready();
    try {
      await host.start({ id: 1, name: 'd1', address: '127.0.0.2', authorizedKeys: [] });
      // The reservation never speaks; an SSH identification line means the droplet has the port.
      expect(await greeting(port, '127.0.0.2')).toMatch(/^SSH-2\.0-/);
      expect(host.port()).toBe(port);
    } finally {
      await host.close();
    }
    expect(await listenError(port, '127.0.0.2')).toBeNull();
  });
});
