/**
 * What the login check adds to a real ssh login: on one real-host droplet deployed by
 * an embedded berth (which serves its droplet API to the emulator's droplets itself),
 * Debian's ssh logs in as the agent (sshd runs berth's login check, which asks berth)
 * and as a second user whose keys sshd reads from a static `authorized_keys` (a `Match`
 * block at the end of sshd_config turns the check off for that user only), with the same
 * key, alternately, so both sides see the same machine. Target: the check adds at most
 * 25 ms at p99. Needs real hosts (root on Linux); elsewhere it says so in its row.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.ts';
import { detectHostCapability } from '../src/digitalocean/emulator/host/capability.ts';
import { startServer } from '../src/main.ts';
import { createLogger } from '../src/observability/logger.ts';
import { percentile } from './deploy-probe.ts';
import type { BenchRow } from './table.ts';

export async function benchDropletLogin(options: { logins?: number } = {}): Promise<BenchRow[]> {
  const logins = options.logins ?? 40;
  const capability = detectHostCapability();
  if (!capability.ok) {
    return [
      { name: `ssh login through the login check (not run: ${capability.reason})`, value: 0, unit: '-' },
    ];
  }
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-login-'));
  const config = loadConfig({
    BERTH_DATA_DIR: join(dir, 'data'),
    PORT: '0',
    HOST: '127.0.0.1',
    BERTH_LOG_LEVEL: 'warn',
    BERTH_EMULATOR_SSH_PORT: '0',
    BERTH_RATE_LIMIT_USER_PER_MINUTE: '0',
    BERTH_RATE_LIMIT_IP_PER_MINUTE: '0',
  });
  const berth = await startServer(config, createLogger({ level: config.logLevel }));
  try {
    const base = berth.url.replace(/\/+$/, '');
    const signup = await fetch(`${base}/auth/v1/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bench-login@example.test', password: randomBytes(12).toString('hex') }),
    });
    const { access_token: token } = (await signup.json()) as { access_token: string };
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return (await r.json()) as Record<string, unknown>;
    };
    const created = (await call('POST', '/api/ssh-keys', { name: 'bench' })) as {
      key: { public_key: string };
      private_key: string;
    };
    const keyFile = join(dir, 'id');
    writeFileSync(keyFile, created.private_key, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    const { agent } = (await call('POST', '/api/agents', { name: 'bench' })) as { agent: { id: string } };
    await call('POST', `/api/agents/${agent.id}/tool-environment`);
    let address = '';
    const deadline = Date.now() + 180_000;
    while (!address) {
      const { environment } = (await call('GET', `/api/agents/${agent.id}/tool-environment`)) as {
        environment: { status: string; ip_address: string | null; login_access: string };
      };
      if (environment.status === 'active' && environment.ip_address) {
        if (environment.login_access !== 'live') throw new Error('the droplet’s access is not live');
        address = environment.ip_address;
      } else if (Date.now() > deadline)
        throw new Error(`the droplet did not become active (${environment.status})`);
      else await new Promise((r) => setTimeout(r, 200));
    }
    const ssh = (user: string, command: string) => sshTimed(keyFile, user, address, command);
    await waitFor(async () => (await ssh('root', 'cloud-init status --wait')).code === 0);
    const setup = await ssh(
      'root',
      [
        'useradd -m -s /bin/sh static',
        'install -d -o static -g static -m 700 /home/static/.ssh',
        `echo '${created.key.public_key.trim()}' > /home/static/.ssh/authorized_keys`,
        'chown static:static /home/static/.ssh/authorized_keys',
        `printf 'Match User static\\n  AuthorizedKeysCommand none\\n  AuthorizedKeysFile .ssh/authorized_keys\\n' >> /etc/ssh/sshd_config`,
        'kill -HUP $(cat /run/sshd.pid)',
      ].join(' && '),
    );
    if (setup.code !== 0) throw new Error(`could not set the static user up: ${setup.stderr}`);
    await waitFor(async () => (await ssh('static', 'true')).code === 0);
    const live: number[] = [];
    const fixed: number[] = [];
    for (let i = 0; i < logins; i++) {
      for (const [user, into] of i % 2
        ? ([
            ['agent', live],
            ['static', fixed],
          ] as const)
        : ([
            ['static', fixed],
            ['agent', live],
          ] as const)) {
        const r = await ssh(user, 'true');
        if (r.code !== 0) throw new Error(`login as ${user} failed: ${r.stderr}`);
        into.push(r.ms);
      }
    }
    const p = (xs: number[], q: number) => percentile(xs, q);
    const added = p(live, 99) - p(fixed, 99);
    process.stderr.write(
      `droplet-login details: ${logins} logins a side; p50 ${p(live, 50).toFixed(1)} / ${p(fixed, 50).toFixed(1)} ms, p99 ${p(live, 99).toFixed(1)} / ${p(fixed, 99).toFixed(1)} ms (through berth / static)\n`,
    );
    return [
      {
        name: `ssh login through berth’s login check, p50 (${logins} logins)`,
        value: p(live, 50),
        unit: 'ms',
        baseline: p(fixed, 50),
        baselineName: 'static authorized_keys, same droplet',
      },
      {
        name: 'ssh login: time the login check adds at p99',
        value: added,
        unit: 'ms',
        baseline: p(fixed, 99),
        baselineName: 'static authorized_keys p99',
        target: '≤ 25 ms',
        pass: added <= 25,
      },
    ];
  } finally {
    await berth.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 500));
  }
}

function sshTimed(keyFile: string, user: string, address: string, command: string) {
  const begun = performance.now();
  return new Promise<{ code: number; stderr: string; ms: number }>((resolve) => {
    execFile(
      'ssh',
      [
        ...[
          '-F',
          '/dev/null',
          '-o',
          'BatchMode=yes',
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          'StrictHostKeyChecking=no',
        ],
        ...['-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10'],
        ...['-i', keyFile, `${user}@${address}`, command],
      ],
      { encoding: 'utf8', timeout: 60_000 },
      (err, _stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
          stderr,
          ms: performance.now() - begun,
        }),
    );
  });
}
