/**
 * Real SSH into emulated droplets. Each droplet that becomes active gets its own SSH
 * server on its own loopback address (127.0.0.2, 127.0.0.3, ...; Linux routes all of
 * 127.0.0.0/8 to the loopback interface, so no setup is needed) and one shared port,
 * so the address the API reports is the address a client connects to. A server lets
 * in user `root` with exactly the public keys named in `ssh_keys` when the droplet was
 * created, nothing else: no passwords, no keys added to the account later.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import ssh2, { type AuthContext, type Connection, type ParsedKey, type Server } from 'ssh2';
import type { DropletConsole } from '../host/files.ts';
import { handleSession } from './session.ts';

export interface SshTarget {
  id: number;
  name: string;
  address: string;
  authorizedKeys: string[];
  /** What real hosts boot with; light droplets ignore them. */
  userData?: string;
  region?: string;
  tags?: string[];
}

/** Where a started droplet is reachable, when the host (not the API) chose its address. */
export interface StartedHost {
  address: string;
  netmask: string;
  gateway: string;
}

/**
 * What the lifecycle needs from whatever runs droplets: light SSH servers here, real
 * hosts in ../host/runtime.ts, or nothing at all (a disabled host).
 */
export interface SshHost {
  /** `real`: isolated Linux hosts with cloud-init and sshd; `light`: ssh2 servers on loopback. */
  readonly kind: 'real' | 'light';
  /** The port every droplet listens on; resolved from 0 to a free port by `ready()`. */
  port(): number;
  ready(): Promise<number>;
  start(target: SshTarget): Promise<StartedHost | undefined>;
  /** Powers a droplet off: its processes end; a real host keeps its files for the next boot. */
  stop(dropletId: number): Promise<void>;
  /** Destroys a droplet: stopped, and its files and network removed. */
  remove(dropletId: number): Promise<void>;
  /** The droplet's boot log, where there is one (real hosts). */
  console?(dropletId: number): DropletConsole | undefined;
  close(): Promise<void>;
}

interface Running {
  server: Server;
  connections: Set<Connection>;
  children: Set<ChildProcess>;
}

export interface SshHostOptions {
  /** 0 picks a free port once (probed on `probeAddress`) and uses it for every droplet. */
  port: number;
  probeAddress: string;
  /** Host private key (OpenSSH or PEM); one is generated when absent. */
  hostKey?: string;
  onError?: (message: string) => void;
}

export function createSshHost(options: SshHostOptions): SshHost {
  const hostKey = options.hostKey ?? ssh2.utils.generateKeyPairSync('ed25519').private;
  const running = new Map<number, Running>();
  let port = options.port;
  let probing: Promise<number> | undefined;
  // The probe keeps listening until a droplet takes its address over: a port freed at
  // once after probing could be handed to another emulator's probe (another test worker),
  // and both would then put their first droplet on the same address and port.
  let reservation: NetServer | undefined;
  const release = async () => {
    const held = reservation;
    reservation = undefined;
    if (held) await new Promise<void>((resolve) => held.close(() => resolve()));
  };

  const ready = async (): Promise<number> => {
    if (port !== 0) return port;
    probing ??= reserveFreePort(options.probeAddress).then((reserved) => {
      reservation = reserved.server;
      return reserved.port;
    });
    port = await probing;
    return port;
  };

  const stop = async (dropletId: number): Promise<void> => {
    const entry = running.get(dropletId);
    if (!entry) return;
    running.delete(dropletId);
    const closed = new Promise<void>((resolve) => entry.server.close(() => resolve()));
    for (const child of entry.children) child.kill('SIGKILL');
    for (const connection of entry.connections) connection.end();
    await closed;
  };

  return {
    kind: 'light',
    port: () => port,
    ready,
    async start(target) {
      if (running.has(target.id)) return undefined;
      const listenPort = await ready();
      if (target.address === options.probeAddress) await release();
      const entry: Running = {
        server: undefined as unknown as Server,
        connections: new Set(),
        children: new Set(),
      };
      const allowed = target.authorizedKeys
        .map((line) => ssh2.utils.parseKey(line))
        .filter((k): k is ParsedKey => !(k instanceof Error));
      entry.server = new ssh2.Server({ hostKeys: [hostKey] }, (connection) => {
        entry.connections.add(connection);
        connection.on('close', () => entry.connections.delete(connection));
        connection.on('error', (err) => options.onError?.(`ssh ${target.address}: ${err.message}`));
        connection.on('authentication', (ctx) => authenticate(ctx, allowed));
        connection.on('ready', () => {
          connection.on('session', (accept) => {
            handleSession(accept(), {
              dropletId: target.id,
              dropletName: target.name,
              children: entry.children,
            });
          });
        });
      });
      await new Promise<void>((resolve, reject) => {
        entry.server.once('error', reject);
        entry.server.listen(listenPort, target.address, () => {
          entry.server.off('error', reject);
          resolve();
        });
      });
      running.set(target.id, entry);
      return undefined;
    },
    stop,
    remove: stop,
    async close() {
      await Promise.all([...running.keys()].map((id) => stop(id)));
      await release();
    },
  };
}

/** Lets in `root` holding one of `allowed`, and nobody and nothing else. */
function authenticate(ctx: AuthContext, allowed: ParsedKey[]): void {
  const key =
    ctx.method === 'publickey' && ctx.username === 'root'
      ? allowed.find((k) => k.getPublicSSH().equals(ctx.key.data))
      : undefined;
  if (!key || ctx.method !== 'publickey') {
    ctx.reject(['publickey']);
  } else if (!ctx.signature || !ctx.blob) {
    // Without a signature the client is only asking whether this key would do.
    ctx.accept();
  } else if (key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) {
    ctx.accept();
  } else {
    ctx.reject(['publickey']);
  }
}

/** An SSH host for emulators run without SSH: droplets still come up, nothing listens. */
export function disabledSshHost(port: number): SshHost {
  return {
    kind: 'light',
    port: () => port,
    ready: async () => port,
    start: async () => undefined,
    stop: async () => {},
    remove: async () => {},
    close: async () => {},
  };
}

/** A free port on `address`, held by a listening server until the caller closes it. */
async function reserveFreePort(address: string): Promise<{ port: number; server: NetServer }> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const info = server.address();
  if (!info || typeof info === 'string') {
    server.close();
    throw new Error('could not find a free port for the SSH host');
  }
  return { port: info.port, server };
}
