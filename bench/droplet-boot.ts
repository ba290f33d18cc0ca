/**
 * What a real-host droplet costs: 20 droplets created at once on the emulator, timed from
 * the create call to the first successful login with Debian's ssh, and the CPU their
 * boots take (cloud-init's four stages, sshd, key generation), beside the same 20 as
 * light droplets (ssh2 servers in the emulator's process) measured in the same run.
 *
 * CPU of a real host is read from /proc once its boot has finished: every process of the
 * droplet's network namespace, with the CPU of the children each has waited for (so the
 * cloud-init stages, which the droplet's init waits for, are counted). For light
 * droplets it is the emulator process's own CPU over the same span, per droplet.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { detectHostCapability } from '../src/digitalocean/emulator/host/capability.ts';
import { createEmulator, type Emulator } from '../src/digitalocean/emulator/index.ts';
import { percentile } from './deploy-probe.ts';
import type { BenchRow } from './table.ts';

const run = promisify(execFile);
const TOKEN = 'bench-token';
const TICKS = 100; // USER_HZ on Linux

interface Phase {
  loginMs: number[];
  cpuSecondsPerDroplet: number;
}

async function login(key: string, user: string, address: string, port: number): Promise<boolean> {
  try {
    await run('ssh', [
      ...['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR'],
      ...['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5'],
      ...['-i', key, '-p', String(port), `${user}@${address}`, 'true'],
    ]);
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds of every process in a network namespace, with their waited-for children. */
function namespaceCpuSeconds(namespace: string): number {
  const pids = execFileSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime are fields 14-17 of stat, 12-15 after the name.
      ticks += [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    } catch {
      // The process ended while we looked.
    }
  }
  return ticks / TICKS;
}

async function phase(kind: 'real' | 'light', count: number, keyDir: string): Promise<Phase> {
  // DigitalOcean's 250 calls a minute would throttle 20 clients polling; not this bench's subject.
  const emulator: Emulator = createEmulator({
    token: TOKEN,
    activeAfterMs: 0,
    sshPort: 0,
    hosts: kind,
    rateLimits: { perHour: 10_000_000, perMinute: 10_000_000 },
  });
  const { url } = await emulator.listen(0);
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  // biome-ignore lint/suspicious/noExplicitAny: the bench reads arbitrary JSON answers.
  const call = async (method: string, path: string, body?: unknown): Promise<any> =>
    (
      await fetch(`${url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    ).json();
  try {
    const publicKey = readFileSync(join(keyDir, 'id.pub'), 'utf8').trim();
    const keyId = (await call('POST', '/v2/account/keys', { name: 'bench', public_key: publicKey })).ssh_key
      .id;
    const cpuBefore = process.cpuUsage();
    const started = Date.now();
    const loginMs = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const t0 = performance.now();
        const created = await call('POST', '/v2/droplets', {
          name: `boot-${i}`,
          size: 's-1vcpu-1gb',
          image: 'debian-12-x64',
          ssh_keys: [keyId],
          user_data: '#cloud-config\nruncmd:\n  - ["true"]\n',
        });
        const droplet = created.droplet;
        if (!droplet) throw new Error(`create refused: ${JSON.stringify(created)}`);
        for (;;) {
          const got = (await call('GET', `/v2/droplets/${droplet.id}`)).droplet;
          const address = got.networks.v4.find((n: { type: string }) => n.type === 'public')?.ip_address;
          if (
            got.status === 'active' &&
            (await login(join(keyDir, 'id'), 'root', address, emulator.sshPort))
          ) {
            return performance.now() - t0;
          }
          if (Date.now() - started > 600_000) throw new Error(`droplet ${droplet.id} never took a login`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }),
    );
    let cpuSeconds: number;
    if (kind === 'real') {
      // Let every boot run to its end (config and final stages) before counting.
      for (const d of emulator.state.droplets.values()) {
        while (!emulator.admin.console(d.id)?.boot.includes('emulator: boot finished')) {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.split(' ')[0] ?? '')
        .filter((n) => n.startsWith(`berth-do-${process.pid}-`));
      cpuSeconds = namespaces.reduce((sum, ns) => sum + namespaceCpuSeconds(ns), 0);
    } else {
      const used = process.cpuUsage(cpuBefore);
      cpuSeconds = (used.user + used.system) / 1e6;
    }
    return { loginMs, cpuSecondsPerDroplet: cpuSeconds / count };
  } finally {
    await emulator.close();
  }
}

export async function benchDropletBoot(options: { count?: number } = {}): Promise<BenchRow[]> {
  const count = options.count ?? 20;
  const keyDir = mkdtempSync(join(tmpdir(), 'berth-bench-boot-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'id')]);
    const light = await phase('light', count, keyDir);
    const capability = detectHostCapability();
    if (!capability.ok) {
      return [
        {
          name: `droplet boot: real hosts not measured (${capability.reason})`,
          value: Number.NaN,
          unit: 'ms',
        },
      ];
    }
    const real = await phase('real', count, keyDir);
    const row = (q: number, label: string): BenchRow => ({
      name: `droplet boot: create → sshd takes a login, ${label} (${count} at once, real hosts)`,
      value: percentile(real.loginMs, q),
      unit: 'ms',
      baseline: percentile(light.loginMs, q),
      baselineName: 'light droplets',
    });
    return [
      row(50, 'p50'),
      row(99, 'p99'),
      {
        name: `droplet boot: CPU per droplet to the end of cloud-init (${count} at once, real hosts)`,
        value: real.cpuSecondsPerDroplet,
        unit: 's',
        baseline: light.cpuSecondsPerDroplet,
        baselineName: 'light droplets',
      },
    ];
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
  }
}
