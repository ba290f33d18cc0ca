/**
 * Real-host droplets: each droplet is an isolated Linux host on this machine (its own
 * mount, PID, UTS, IPC and network namespaces, a copy-on-write root over the machine's
 * file system) that boots with real cloud-init and runs Debian's real sshd on port 22 of
 * its own address. `start` boots it and resolves once sshd accepts connections; `stop`
 * powers it off (every process ends, its files stay); `remove` destroys it (files and
 * network too). The chain `setpriv --pdeathsig` → `unshare --kill-child` means the
 * droplet's init, and with it its whole PID namespace, dies when the emulator's process
 * does, even by SIGKILL; what such a death leaves on disk is swept at the next start.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SshHost, SshTarget, StartedHost } from '../ssh/host.ts';
import { BOOT_SCRIPT, CONSOLE_MARKS } from './boot-script.ts';
import {
  type DropletConsole,
  type DropletFiles,
  formatConsole,
  prepareDropletFiles,
  readConsole,
} from './files.ts';
import { listenMetadata } from './metadata.ts';
import {
  createDropletNetwork,
  type DropletNetwork,
  ensureRangeStaysLocal,
  namespaceName,
  namespacePids,
  removeNamespace,
} from './network.ts';
import { sweepStale } from './sweep.ts';

export interface HostRuntimeOptions {
  /** Where every emulator keeps its droplets' files. Default `<tmpdir>/berth-do-hosts`. */
  stateRoot?: string;
  /** How long a boot may take until sshd accepts connections. Default 120 s. */
  bootTimeoutMs?: number;
  onError?: (message: string) => void;
  /** Told what was cleaned up after dead emulators. */
  onNotice?: (message: string) => void;
}

interface Entry {
  target: SshTarget;
  files: DropletFiles;
  network?: DropletNetwork;
  metadata?: Server;
  init?: ChildProcess;
  exited?: Promise<void>;
  starting?: Promise<StartedHost>;
  removed: boolean;
  /** Boots so far; the first one is the image's first boot. */
  boots: number;
}

export const DEFAULT_STATE_ROOT = join(tmpdir(), 'berth-do-hosts');

export function createHostRuntime(options: HostRuntimeOptions = {}): SshHost {
  const emulatorId = randomBytes(3).toString('hex');
  const stateRoot = options.stateRoot ?? DEFAULT_STATE_ROOT;
  const stateDir = join(stateRoot, `${process.pid}-${emulatorId}`);
  const bootTimeoutMs = options.bootTimeoutMs ?? 120_000;
  const entries = new Map<number, Entry>();
  let prepared: Promise<void> | undefined;

  const ready = async () => {
    prepared ??= (async () => {
      await ensureRangeStaysLocal();
      for (const note of await sweepStale(stateRoot)) options.onNotice?.(`DigitalOcean emulator: ${note}`);
      mkdirSync(stateDir, { recursive: true });
    })();
    await prepared;
    return 22;
  };

  const boot = async (entry: Entry): Promise<StartedHost> => {
    const { target } = entry;
    const check = () => {
      if (entry.removed) throw new Error('the droplet was destroyed while it booted');
    };
    if (!entry.network) {
      entry.network = await createDropletNetwork(namespaceName(process.pid, emulatorId, target.id));
      check();
      const network = entry.network;
      // Read at each request: once a renamed droplet boots again, its metadata has the new name.
      entry.metadata = await listenMetadata(network.hostAddress, () => ({
        dropletId: entry.target.id,
        hostname: entry.target.name,
        userData: entry.target.userData,
        publicKeys: entry.target.authorizedKeys,
        region: entry.target.region ?? 'nyc3',
        tags: entry.target.tags ?? [],
        address: network.address,
        netmask: network.netmask,
        gateway: network.hostAddress,
        mac: network.mac,
      }));
      check();
    }
    const network = entry.network;
    // The log keeps every boot; this boot's lines start here.
    const from = readText(entry.files.bootLog).length;
    const thisBoot = () => readText(entry.files.bootLog).slice(from);
    const out = openSync(entry.files.bootLog, 'a');
    try {
      entry.init = spawn(
        'setpriv',
        [
          '--pdeathsig',
          'KILL',
          '--',
          'nsenter',
          `--net=/run/netns/${network.namespace}`,
          '--',
          'unshare',
          '--mount',
          '--pid',
          '--uts',
          '--ipc',
          '--fork',
          '--kill-child',
          '--',
          '/bin/sh',
          '-c',
          BOOT_SCRIPT,
          'droplet-init',
        ],
        {
          stdio: ['ignore', out, out],
          env: {
            PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
            LANG: 'C.UTF-8',
            DROPLET_STATE: entry.files.dir,
            DROPLET_HOSTNAME: target.name,
            DROPLET_FIRST_BOOT: entry.boots === 0 ? '1' : '0',
          },
        },
      );
    } finally {
      closeSync(out);
    }
    entry.boots++;
    const init = entry.init;
    entry.exited = new Promise<void>((resolve) => {
      if (init.exitCode !== null || init.signalCode !== null) resolve();
      init.once('exit', () => resolve());
      init.once('error', () => resolve());
    });
    const deadline = Date.now() + bootTimeoutMs;
    let dead = false;
    void entry.exited.then(() => {
      dead = true;
    });
    while (!(await accepts(network.address, 22))) {
      check();
      if (dead) throw bootFailure(entry, 'the droplet’s init exited before sshd listened');
      if (thisBoot().includes(CONSOLE_MARKS.sshdFailed)) throw bootFailure(entry, 'sshd did not start');
      if (Date.now() > deadline) throw bootFailure(entry, `sshd did not listen within ${bootTimeoutMs} ms`);
      await sleep(100);
    }
    void watchFinalStage(entry, init, deadline, thisBoot);
    return { address: network.address, netmask: network.netmask, gateway: network.hostAddress };
  };

  const bootFailure = (entry: Entry, why: string) => {
    const text = `droplet ${entry.target.id} (${entry.target.name}) failed to boot: ${why}`;
    options.onError?.(`${text}\n${formatConsole(readConsole(entry.files))}`);
    return new Error(text);
  };

  /** After sshd, the config and final stages run; a bootstrap that failed is reported with its log. */
  const watchFinalStage = async (
    entry: Entry,
    init: ChildProcess,
    deadline: number,
    thisBoot: () => string,
  ) => {
    while (Date.now() < deadline && entry.init === init && init.exitCode === null) {
      if (thisBoot().includes(CONSOLE_MARKS.finished)) {
        const console = readConsole(entry.files);
        if (console.result && console.result.errors.length > 0) {
          options.onError?.(
            `droplet ${entry.target.id} (${entry.target.name}): cloud-init reported errors: ${console.result.errors.join('; ')}\n${formatConsole(console)}`,
          );
        }
        return;
      }
      await sleep(250);
    }
  };

  const stop = async (dropletId: number) => {
    const entry = entries.get(dropletId);
    if (!entry?.init) return;
    const { init, exited } = entry;
    entry.init = undefined;
    // unshare's --kill-child turns this into SIGKILL for the droplet's init, and the
    // kernel ends every process of a PID namespace whose init dies.
    init.kill('SIGKILL');
    await exited;
    if (entry.network) {
      const deadline = Date.now() + 10_000;
      while ((await namespacePids(entry.network.namespace)).length > 0 && Date.now() < deadline) {
        await sleep(20);
      }
    }
  };

  const remove = async (dropletId: number) => {
    const entry = entries.get(dropletId);
    if (!entry) return;
    entry.removed = true;
    await stop(dropletId);
    await entry.starting?.catch(() => {});
    await stop(dropletId);
    entries.delete(dropletId);
    if (entry.metadata) {
      const server = entry.metadata;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (entry.network) await removeNamespace(entry.network.namespace);
    rmSync(entry.files.dir, { recursive: true, force: true });
  };

  return {
    kind: 'real',
    port: () => 22,
    ready,
    async start(target) {
      await ready();
      let entry = entries.get(target.id);
      if (entry?.init) throw new Error(`droplet ${target.id} is already running`);
      if (!entry) {
        entry = { target, files: prepareDropletFiles(stateDir, target), removed: false, boots: 0 };
        entries.set(target.id, entry);
      }
      entry.target = target;
      const current = entry;
      current.starting = boot(current);
      return current.starting;
    },
    stop,
    remove,
    console: (dropletId): DropletConsole | undefined => {
      const entry = entries.get(dropletId);
      return entry ? readConsole(entry.files) : undefined;
    },
    async close() {
      await Promise.all([...entries.keys()].map((id) => remove(id)));
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when something accepts a TCP connection at address:port within a second. */
function accepts(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}
