/**
 * Helpers for tests of real-host droplets: whether they run here (they need root on
 * Linux with namespaces, cloud-init and sshd; in CI a missing capability fails the tests
 * instead of skipping them), Debian's ssh client run as a user would run it, and a wait
 * for a droplet to turn active that allows for a real boot.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { detectHostCapability } from '../../src/digitalocean/emulator/host/capability.ts';

const capability = detectHostCapability();

/**
 * `describe` for real-host tests. Where the machine cannot run them they are skipped
 * with the reason in their name, except in CI (CI=true), where they run and fail, since
 * the emulator refuses `hosts: 'real'` without the capability.
 */
export function describeRealHosts(name: string, body: () => void): void {
  if (capability.ok || process.env.CI === 'true') describe(name, body);
  else describe.skip(`${name} (skipped: ${capability.reason})`, body);
}

export const realHostsAvailable = capability.ok;

/** Rate limits no test that polls a real boot meets (DigitalOcean's are 250 a minute). */
export const UNLIMITED = { perMinute: 1_000_000, perHour: 10_000_000 };

export interface SshRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs Debian's ssh client against `user@address` on port 22 (or `port`) with one
 * private key (PEM or OpenSSH text, or a path to a key file).
 */
export async function sshRun(
  key: { text: string } | { path: string },
  target: { user: string; address: string; port?: number },
  command: string,
): Promise<SshRun> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-real-ssh-'));
  let keyFile: string;
  if ('path' in key) keyFile = key.path;
  else {
    keyFile = join(dir, 'id');
    writeFileSync(keyFile, key.text.endsWith('\n') ? key.text : `${key.text}\n`, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
  }
  try {
    return await new Promise<SshRun>((resolve) => {
      execFile(
        'ssh',
        [
          ...['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes'],
          ...['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'],
          ...['-o', 'ConnectTimeout=30', '-o', 'LogLevel=ERROR', '-o', 'PasswordAuthentication=no'],
          ...['-i', keyFile, '-p', String(target.port ?? 22), `${target.user}@${target.address}`, command],
        ],
        { encoding: 'utf8', timeout: 60_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A shell command that leaves `sleep <seconds>` running in the droplet after the SSH
 * session ends (immune to the session's hangup, in a session of its own), and prints
 * `started` once it is running.
 */
export function detachedSleep(seconds: number): string {
  return [
    `nohup setsid -f sleep ${seconds} >/dev/null 2>&1 < /dev/null`,
    `for i in $(seq 100); do pgrep -x sleep -a | grep -q "sleep ${seconds}$" && break; sleep 0.05; done`,
    'echo started',
  ].join('; ');
}

/** Pids of the machine's processes whose command line contains `text`. */
export async function hostPidsMatching(text: string): Promise<number[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}
