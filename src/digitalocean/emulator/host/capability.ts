/**
 * Whether this machine can run real-host droplets, and if not, why not, in words an
 * operator can act on: Linux, root, the tools the runtime is made of (util-linux's
 * unshare, nsenter and setpriv, iproute2, nftables, cloud-init, OpenSSH's sshd), and
 * namespaces the kernel actually grants (a container may refuse them).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type HostCapability = { ok: true } | { ok: false; reason: string };

const TOOLS: Array<[string, string]> = [
  ['unshare', 'util-linux'],
  ['nsenter', 'util-linux'],
  ['setpriv', 'util-linux'],
  ['pivot_root', 'util-linux'],
  ['ip', 'iproute2'],
  ['nft', 'nftables'],
  ['cloud-init', 'cloud-init'],
  ['ssh-keygen', 'openssh-client'],
];

function onPath(command: string): boolean {
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    try {
      accessSync(`${dir}/${command}`, constants.X_OK);
      return true;
    } catch {
      // Not in this directory.
    }
  }
  return false;
}

let cached: HostCapability | undefined;

export function detectHostCapability(): HostCapability {
  cached ??= detect();
  return cached;
}

function detect(): HostCapability {
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root' };
  const missing = TOOLS.filter(([command]) => !onPath(command)).map(([c, pkg]) => `${c} (${pkg})`);
  try {
    accessSync('/usr/sbin/sshd', constants.X_OK);
  } catch {
    missing.push('/usr/sbin/sshd (openssh-server)');
  }
  if (missing.length > 0) return { ok: false, reason: `missing ${missing.join(', ')}` };
  const probe = spawnSync(
    'unshare',
    ['--mount', '--pid', '--uts', '--ipc', '--net', '--fork', '--', '/bin/true'],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (probe.status !== 0) {
    return {
      ok: false,
      reason: `namespaces refused: ${(probe.stderr || probe.error?.message || '').trim()}`,
    };
  }
  return probeOverlayAndNat();
}

/**
 * What a boot needs beyond namespaces, tried in a throwaway mount and network namespace:
 * an overlay of `/` with its upper layer in the temporary directory (refused when that
 * directory is itself on overlayfs, as in many containers), and nftables NAT.
 */
function probeOverlayAndNat(): HostCapability {
  const dir = mkdtempSync(join(tmpdir(), 'berth-do-probe-'));
  try {
    for (const sub of ['upper', 'work', 'merged']) mkdirSync(join(dir, sub));
    const script = [
      `mount -t overlay overlay -o lowerdir=/,upperdir=${dir}/upper,workdir=${dir}/work ${dir}/merged`,
      'nft add table ip probe',
      'nft add chain ip probe output "{ type nat hook output priority -100; }"',
    ].join(' && ');
    const probe = spawnSync('unshare', ['--mount', '--net', '--', '/bin/sh', '-c', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (probe.status !== 0) {
      const why = (probe.stderr || probe.error?.message || '').trim();
      return { ok: false, reason: `overlayfs over / or nftables NAT refused in ${tmpdir()}: ${why}` };
    }
    return { ok: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
